/**
 * The life after the first deploy, on moto (docs/DEPLOY.md §10–§12): upgrade the code in
 * place, `cdk destroy` with the data kept, redeploy adopting the retained bucket, table and
 * key, and restore the table to a point in time. Steps act on a started DeployedHarness: a
 * "deploy" is a synthesised template whose function environments are resolved against moto,
 * and the handlers rebuilt from it (DeployedHarness.wire).
 */
import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  RestoreTableToPointInTimeCommand,
  UpdateContinuousBackupsCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoLedger } from '../../functions/adapters/aws/dynamo.ts';
import { createQueues, functionFacts, synthTemplate, uniqueName } from './aws-env.ts';
import type { DeployedHarness } from './deployed-harness.ts';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;
type Fetcher = DeployedHarness['fetcher'];

function resourceTypes(tpl: Json): string[] {
  return Object.values(tpl.Resources as Record<string, { Type: string }>).map((r) => r.Type);
}

/**
 * A code upgrade (`cdk deploy` of a new version onto the same stack): same resources, same
 * queue, every handler rebuilt from a fresh synth. Invocations already running finish on the
 * old code, which the caller keeps holding.
 */
export function upgradeCode(h: DeployedHarness): { types: string[] } {
  const tpl = synthTemplate(h.context);
  h.facts = { ...h.facts, ...functionFacts(tpl) };
  h.wire();
  return { types: resourceTypes(tpl) };
}

/**
 * The event source mapping delivering exactly one message to `fetcher` (deleted on success,
 * left in flight on failure). Returns whether a message was delivered.
 */
export async function deliverOne(h: DeployedHarness, fetcher: Fetcher): Promise<boolean> {
  const r = await h.c.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: h.res.queueUrl,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
  );
  const m = r.Messages?.[0];
  if (!m) return false;
  await h.deliver(fetcher, m);
  return true;
}

/**
 * `cdk destroy` with removalPolicy=retain: functions, API, schedule and alarms go (the
 * handlers are dropped); bucket, table, key and both queues stay, messages included.
 */
export async function destroyStack(h: DeployedHarness) {
  const gone = async () => {
    throw new Error('the stack was destroyed');
  };
  h.scheduler = gone;
  h.fetcher = gone;
  return {
    kept: {
      bucketName: h.res.bucketName,
      tableName: h.res.tableName,
      kmsKeyArn: h.res.kmsKeyArn,
      queueUrl: h.res.queueUrl,
    },
    queueDepth: await h.queueDepth(),
  };
}

/**
 * A new stack deployed with `-c bucketName=… -c tableName=… -c kmsKeyArn=…`: the template
 * creates no bucket, table or key, and its functions name the adopted ones literally. Only
 * the queues are new. The old logical ids are dropped from the physical map, so any
 * reference the adopt template still made to a created data resource would leave an
 * environment variable unresolved and fail the handler's env parsing.
 */
export async function redeployAdopting(
  h: DeployedHarness,
  adopt: { bucketName: string; tableName: string; kmsKeyArn: string },
) {
  const context = { ...h.context, ...adopt };
  const tpl = synthTemplate(context);
  const fns = functionFacts(tpl);
  const facts = { ...h.facts, ...fns };
  const q = await createQueues(h.c, facts, uniqueName('e2e-redeploy'), h.opts.timeScale);
  const physical: Record<string, string> = {
    [facts.queueId]: q.queueUrl,
    [facts.dlqId]: q.dlqUrl,
  };
  for (const [id, name] of Object.entries(fns.functionIds)) physical[id] = `redeploy-${name}`;
  const before = h.envs;
  h.context = context;
  h.facts = facts;
  h.res = {
    ...h.res,
    tableName: adopt.tableName,
    bucketName: adopt.bucketName,
    kmsKeyArn: adopt.kmsKeyArn,
    queueUrl: q.queueUrl,
    dlqUrl: q.dlqUrl,
    visibilityTimeout: q.visibilityTimeout,
    physical,
  };
  h.wire();
  h.ledger = new DynamoLedger(h.c.ddb, adopt.tableName);
  return { types: resourceTypes(tpl), before, after: h.envs };
}

/**
 * The point-in-time restore drill (docs/DEPLOY.md §12), the same calls as the AWS CLI lines
 * there: restore into a new table, re-apply what a restore does not carry over (PITR, TTL,
 * deletion protection), then the caller redeploys adopting it. moto copies the table as it is
 * now (it keeps no history), so the drill proves the procedure, not the time travel.
 */
export async function restoreTableDrill(h: DeployedHarness, source: string) {
  const target = `${source}-restored`;
  const ddb = h.c.rawDdb;
  await ddb.send(
    new RestoreTableToPointInTimeCommand({
      SourceTableName: source,
      TargetTableName: target,
      UseLatestRestorableTime: true,
      ...(h.res.kmsKeyArn
        ? {
            SSESpecificationOverride: {
              Enabled: true,
              SSEType: 'KMS',
              KMSMasterKeyId: h.res.kmsKeyArn,
            },
          }
        : {}),
    }),
  );
  await ddb.send(
    new UpdateContinuousBackupsCommand({
      TableName: target,
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    }),
  );
  await ddb.send(
    new UpdateTimeToLiveCommand({
      TableName: target,
      TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' },
    }),
  );
  await ddb.send(new UpdateTableCommand({ TableName: target, DeletionProtectionEnabled: true }));
  const table = (await ddb.send(new DescribeTableCommand({ TableName: target }))).Table;
  const pitr = await ddb.send(new DescribeContinuousBackupsCommand({ TableName: target }));
  const ttl = await ddb.send(new DescribeTimeToLiveCommand({ TableName: target }));
  return {
    target,
    indexes: (table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName),
    deletionProtection: table?.DeletionProtectionEnabled,
    pitr: pitr.ContinuousBackupsDescription?.PointInTimeRecoveryDescription
      ?.PointInTimeRecoveryStatus,
    ttl: ttl.TimeToLiveDescription?.AttributeName,
  };
}
