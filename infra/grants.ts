/**
 * Least privilege per function (issue #12): instead of CDK's whole-table `grantReadWriteData`
 * (Scan, DeleteItem, BatchWriteItem, … plus Encrypt/ReEncrypt on the key that also protects
 * the tokens, with no condition), each function gets the DynamoDB actions its code performs,
 * on the partition keys it touches (`dynamodb:LeadingKeys`), and every use of the stack key is
 * conditioned on `kms:ViaService`: the role can only have DynamoDB, S3, SQS or SSM use the key
 * on its behalf, never call KMS itself. test/infra/stack.test.ts asserts the exact sets and
 * test/integration/link-owner.test.ts checks them against what the handlers really call.
 */
import { Aws } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { AppFunction } from './constructs/app-function.ts';

/** The DynamoDB access of each function, from the stores its handler wires (functions/shared). */
export const TABLE_ACCESS = {
  // beginLink: peek the invite (INVITE#), create the state (STATE#). Nothing else.
  authorize: {
    actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    leadingKeys: ['STATE#*', 'INVITE#*'],
  },
  // completeLink: consume state and invite, claim the owner item, save the account, budget.
  callback: {
    actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
    leadingKeys: ['STATE#*', 'INVITE#*', 'OWNER', 'ACCOUNTS', 'BUDGET#*'],
  },
  // Match the token among the accounts, mark REVOKED; onRevoke=delete: the user's ledger.
  deauthorize: {
    actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:DeleteItem'],
    leadingKeys: ['ACCOUNTS', 'USER#*'],
  },
  // One message: ledger item, account, budget (observe re-reads with BatchGetItem).
  fetcher: {
    actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:BatchGetItem'],
    leadingKeys: ['ACCOUNTS', 'USER#*', 'BUDGET#*'],
  },
  // Which linked account an uploaded ZIP belongs to; the sliced import's job item.
  importer: {
    actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    leadingKeys: ['ACCOUNTS', 'IMPORT#*'],
  },
  // Change detection, paging, enqueueing: the ledger, its byWork index, accounts, budget.
  scheduler: {
    actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:BatchGetItem'],
    index: true,
  },
} as const satisfies Record<
  string,
  { actions: readonly string[]; leadingKeys?: readonly string[]; index?: boolean }
>;

/** What a service needs from the key for the caller (reads decrypt; writes also encrypt). */
const KEY_USE = {
  dynamodbRead: ['kms:Decrypt', 'kms:DescribeKey'],
  dynamodbWrite: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
  s3Read: ['kms:Decrypt'],
  s3Write: ['kms:Decrypt', 'kms:GenerateDataKey'],
  sqsSend: ['kms:Decrypt', 'kms:GenerateDataKey'],
  sqsReceive: ['kms:Decrypt'],
  ssmRead: ['kms:Decrypt'],
  // SSM standard SecureStrings are encrypted with kms:Encrypt under the given key.
  ssmWrite: ['kms:Decrypt', 'kms:Encrypt'],
} as const;

/** Use of the stack key only through `service` (kms:ViaService), never directly. */
export function grantKeyVia(
  fn: AppFunction,
  key: kms.IKey | undefined,
  service: 'dynamodb' | 's3' | 'sqs' | 'ssm',
  use: keyof typeof KEY_USE,
): void {
  if (!key) return; // aws-managed: the AWS-managed key policies already cover the role
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: [...KEY_USE[use]],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `${service}.${Aws.REGION}.amazonaws.com` } },
    }),
  );
}

export function grantTable(
  fn: AppFunction,
  table: dynamodb.ITable,
  key: kms.IKey | undefined,
  name: keyof typeof TABLE_ACCESS,
): void {
  const a: { actions: readonly string[]; leadingKeys?: readonly string[]; index?: boolean } =
    TABLE_ACCESS[name];
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: [...a.actions],
      resources: [table.tableArn, ...(a.index ? [`${table.tableArn}/index/*`] : [])],
      ...(a.leadingKeys
        ? {
            conditions: {
              'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...a.leadingKeys] },
            },
          }
        : {}),
    }),
  );
  const writes = a.actions.some((x) => /PutItem|DeleteItem|UpdateItem|BatchWrite/.test(x));
  grantKeyVia(fn, key, 'dynamodb', writes ? 'dynamodbWrite' : 'dynamodbRead');
}

/** SendMessage only (the queue URL comes from the environment), key use through SQS. */
export function grantSend(fn: AppFunction, queue: sqs.IQueue, key: kms.IKey | undefined): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }),
  );
  grantKeyVia(fn, key, 'sqs', 'sqsSend');
}

/** What the Lambda event source mapping needs to consume the queue with the function's role. */
export function grantConsume(fn: AppFunction, queue: sqs.IQueue, key: kms.IKey | undefined): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: [
        // AWSLambdaSQSQueueExecutionRole's set, on this queue only.
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
      ],
      resources: [queue.queueArn],
    }),
  );
  grantKeyVia(fn, key, 'sqs', 'sqsReceive');
}
