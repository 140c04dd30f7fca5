/**
 * The data the stack keeps across `cdk destroy`: the customer-managed key, the archive bucket
 * (with its access-log bucket) and the ledger table. Either created here, or adopted from an
 * earlier deployment (config.adopt, docs/DEPLOY.md §10) so a redeploy continues where the old
 * stack stopped instead of re-fetching the whole history.
 *
 * What an adopted resource loses: the stack no longer manages its settings (versioning,
 * lifecycle rules, encryption, public access block, server access logging, PITR, deletion
 * protection, TTL, the GSI and the key policy stay exactly as the earlier stack left them and
 * are not changed by this one); grants still work (identity policies on the function roles);
 * `addToResourcePolicy` on an imported bucket or key is a no-op, so the TLS-only bucket policy
 * is created here as its own retained resource; the importer's S3 notification is added with
 * `Managed: false` (CDK merges it into the bucket's existing configuration and removes only its
 * own entry on delete).
 */
import { Duration, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { RkSyncConfig } from '../config.ts';

/** How long noncurrent (overwritten/deleted) object versions are kept: 10 years. */
export const NONCURRENT_VERSION_DAYS = 3650;
export const LEDGER_GSI = 'byWork';

export interface DataStores {
  readonly key: kms.IKey | undefined;
  readonly bucket: s3.IBucket;
  readonly table: dynamodb.ITable;
  /** True when bucket, table (and key) come from an earlier deployment. */
  readonly adopted: boolean;
  /** The bucket's and table's ARNs as cdk-nag prints them in findings (for acknowledgements). */
  readonly bucketArnForNag: string;
  readonly tableArnForNag: string;
}

export function dataStores(stack: Stack, config: RkSyncConfig): DataStores {
  return config.adopt ? adopt(stack, config) : create(stack, config);
}

function create(stack: Stack, config: RkSyncConfig): DataStores {
  const removalPolicy = config.removalPolicy;
  const ephemeral = removalPolicy === RemovalPolicy.DESTROY;
  // `cmk` (default): one customer-managed key for everything. `aws-managed`: no key resource;
  // the archive uses aws/s3, the table its AWS-owned key, the queues SQS-managed SSE and the
  // tokens aws/ssm. Those AWS-managed key policies already allow every principal of the
  // account to use them through their service (kms:ViaService + kms:CallerAccount), so no
  // function gets a kms: statement in that mode.
  const key =
    config.encryption === 'cmk'
      ? new kms.Key(stack, 'DataKey', {
          description:
            'rk-sync: archive bucket, ledger table, queues, alarm topic and OAuth tokens',
          enableKeyRotation: true,
          removalPolicy,
          ...(ephemeral ? { pendingWindow: Duration.days(7) } : {}),
        })
      : undefined;
  const accessLogs = new s3.Bucket(stack, 'AccessLogsBucket', {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    // S3 server access log delivery does not support SSE-KMS targets.
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    removalPolicy,
    autoDeleteObjects: ephemeral,
    lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }],
  });

  const bucket = new s3.Bucket(stack, 'ArchiveBucket', {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    // aws-managed: SSE-KMS under aws/s3 (still KMS, so the same checks hold), bucket key on.
    ...(key
      ? { encryption: s3.BucketEncryption.KMS, encryptionKey: key }
      : { encryption: s3.BucketEncryption.KMS_MANAGED }),
    bucketKeyEnabled: true,
    enforceSSL: true,
    versioned: true,
    // H6: no Object Lock, so a de-authorisation can still delete a user's data.
    removalPolicy,
    autoDeleteObjects: ephemeral,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: 'archive/',
    lifecycleRules: [
      {
        id: 'expire-old-noncurrent-versions',
        // Overwritten or deleted revisions stay recoverable for 10 years, then go.
        noncurrentVersionExpiration: Duration.days(NONCURRENT_VERSION_DAYS),
        abortIncompleteMultipartUploadAfter: Duration.days(7),
      },
    ],
  });
  // A retained bucket keeps its policy too: without it `cdk destroy` would leave the archive
  // without its TLS-only rule and the access-log bucket without the log-delivery grant.
  for (const b of [accessLogs, bucket]) b.policy?.applyRemovalPolicy(removalPolicy);

  const table = new dynamodb.Table(stack, 'Table', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: 'expiresAt',
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    ...(key
      ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key }
      : { encryption: dynamodb.TableEncryption.DEFAULT }),
    deletionProtection: !ephemeral,
    removalPolicy,
  });
  table.addGlobalSecondaryIndex({
    indexName: LEDGER_GSI,
    partitionKey: { name: 'workPk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'workSk', type: dynamodb.AttributeType.STRING },
    projectionType: dynamodb.ProjectionType.ALL,
  });
  const idOf = (c: unknown) => stack.resolve(stack.getLogicalId(c as never)) as string;
  return {
    key,
    bucket,
    table,
    adopted: false,
    bucketArnForNag: `<${idOf(bucket.node.defaultChild)}.Arn>`,
    tableArnForNag: `<${idOf(table.node.defaultChild)}.Arn>`,
  };
}

function adopt(stack: Stack, config: RkSyncConfig): DataStores {
  const a = config.adopt!;
  const key = a.kmsKeyArn ? kms.Key.fromKeyArn(stack, 'DataKey', a.kmsKeyArn) : undefined;
  const bucket = s3.Bucket.fromBucketAttributes(stack, 'ArchiveBucket', {
    bucketName: a.bucketName,
    ...(key ? { encryptionKey: key } : {}),
  });
  // The earlier stack's TLS-only policy, re-stated (PutBucketPolicy replaces the whole policy,
  // which held only this statement) and retained, so this stack's destroy leaves it in place.
  const policy = new s3.BucketPolicy(stack, 'ArchiveBucketPolicy', {
    bucket,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  policy.document.addStatements(
    new iam.PolicyStatement({
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:*'],
      resources: [bucket.bucketArn, bucket.arnForObjects('*')],
      conditions: { Bool: { 'aws:SecureTransport': 'false' } },
    }),
  );
  const table = dynamodb.Table.fromTableAttributes(stack, 'Table', {
    ...(a.tableArn ? { tableArn: a.tableArn } : { tableName: a.tableName }),
    // Without the index name the grants would not cover <table>/index/byWork.
    globalIndexes: [LEDGER_GSI],
    ...(key ? { encryptionKey: key } : {}),
  });
  return {
    key,
    bucket,
    table,
    adopted: true,
    bucketArnForNag: nagString(stack, bucket.bucketArn),
    tableArnForNag: nagString(stack, table.tableArn),
  };
}

/** A token-bearing string the way cdk-nag prints it in a finding (`<AWS::Partition>`, …). */
function nagString(stack: Stack, value: string): string {
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
  const render = (v: any): string => {
    if (typeof v === 'string') return v;
    if (v?.Ref) return `<${v.Ref}>`;
    if (v?.['Fn::GetAtt']) return `<${v['Fn::GetAtt'].join('.')}>`;
    if (v?.['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(render).join(v['Fn::Join'][0]);
    throw new Error(`cannot render ${JSON.stringify(v)} for a cdk-nag acknowledgement`);
  };
  return render(stack.resolve(value));
}
