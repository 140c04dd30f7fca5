/**
 * AWS resources on moto, created from the synthesised RkSyncStack template (not written
 * twice by hand): the table's keys, GSI and TTL, the queue's visibility timeout and redrive
 * policy, bucket versioning and encryption, and each function's environment variables. A
 * drift between infra/ and what the functions expect fails here.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { type AwsClients, documentClient } from '../../functions/shared/platform.ts';
import { loadConfig } from '../../infra/config.ts';
import { RkSyncStack } from '../../infra/stack.ts';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

export const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export const FUNCTION_IDS = {
  AuthorizeFunction: 'authorize',
  CallbackFunction: 'callback',
  DeauthorizeFunction: 'deauthorize',
  SchedulerFunction: 'scheduler',
  FetcherFunction: 'fetcher',
  ImporterFunction: 'importer',
} as const;
export type HandlerName = (typeof FUNCTION_IDS)[keyof typeof FUNCTION_IDS];

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Synthesises the stack in-process like `cdk synth` (cdk.json context), minus bundling. */
export function synthTemplate(context: Record<string, unknown>): Json {
  const cdkJson = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as Json;
  const app = new App({
    context: { ...(cdkJson.context ?? {}), ...context, 'aws:cdk:bundling-stacks': [] },
  });
  const config = loadConfig(app);
  const stack = new RkSyncStack(app, config.stackName, { config });
  return Template.fromStack(stack).toJSON();
}

function resourcesOf(tpl: Json, type: string): [string, Json][] {
  return Object.entries(tpl.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);
}

function single(tpl: Json, type: string): [string, Json] {
  const all = resourcesOf(tpl, type);
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0]!;
}

export interface TemplateFacts {
  tableId: string;
  table: Json;
  queueId: string;
  queue: { VisibilityTimeout: number; MessageRetentionPeriod?: number; maxReceiveCount: number };
  dlqId: string;
  dlq: { MessageRetentionPeriod?: number };
  /** The sliced ZIP import's queue and DLQ (issue #14 §1), absent in older templates. */
  importQueueId?: string;
  importDlqId?: string;
  bucketId: string;
  bucket: { versioned: boolean; sseAlgorithm?: string; bucketKey?: boolean; blockAll: boolean };
  keyId: string;
  /** Logical id → handler name, and each function's environment (CloudFormation values). */
  functionIds: Record<string, HandlerName>;
  env: Partial<Record<HandlerName, Record<string, Json>>>;
}

/** Each function's logical id → handler name, and its environment (CloudFormation values). */
export function functionFacts(tpl: Json): Pick<TemplateFacts, 'functionIds' | 'env'> {
  const functionIds: Record<string, HandlerName> = {};
  const env: TemplateFacts['env'] = {};
  for (const [id, fn] of resourcesOf(tpl, 'AWS::Lambda::Function')) {
    const prefix = Object.keys(FUNCTION_IDS).find(
      (p) => id.startsWith(p) && !id.slice(p.length).startsWith('Role'),
    ) as keyof typeof FUNCTION_IDS | undefined;
    if (!prefix) continue;
    functionIds[id] = FUNCTION_IDS[prefix];
    env[FUNCTION_IDS[prefix]] = fn.Properties?.Environment?.Variables ?? {};
  }
  return { functionIds, env };
}

export function templateFacts(tpl: Json): TemplateFacts {
  const [tableId, table] = single(tpl, 'AWS::DynamoDB::Table');
  const all = resourcesOf(tpl, 'AWS::SQS::Queue');
  const isImport = ([id]: [string, Json]) => id.startsWith('Import');
  const queues = all.filter((q) => !isImport(q));
  const main = queues.find(([, q]) => q.Properties?.RedrivePolicy);
  const dlq = queues.find(([, q]) => !q.Properties?.RedrivePolicy);
  if (!main || !dlq || queues.length !== 2) throw new Error('expected a queue and its DLQ');
  const importQueue = all.find((q) => isImport(q) && q[1].Properties?.RedrivePolicy);
  const importDlq = all.find((q) => isImport(q) && !q[1].Properties?.RedrivePolicy);
  const buckets = resourcesOf(tpl, 'AWS::S3::Bucket').filter(
    ([, b]) => b.Properties?.VersioningConfiguration,
  );
  if (buckets.length !== 1) throw new Error('expected exactly one versioned (archive) bucket');
  const [bucketId, bucket] = buckets[0]!;
  const [keyId] = single(tpl, 'AWS::KMS::Key');
  const sse = bucket.Properties?.BucketEncryption?.ServerSideEncryptionConfiguration?.[0];
  const pab = bucket.Properties?.PublicAccessBlockConfiguration ?? {};
  const { functionIds, env } = functionFacts(tpl);
  return {
    tableId,
    table: table.Properties,
    queueId: main[0],
    queue: {
      VisibilityTimeout: Number(main[1].Properties.VisibilityTimeout ?? 30),
      MessageRetentionPeriod: main[1].Properties.MessageRetentionPeriod,
      maxReceiveCount: Number(main[1].Properties.RedrivePolicy.maxReceiveCount),
    },
    dlqId: dlq[0],
    dlq: { MessageRetentionPeriod: dlq[1].Properties?.MessageRetentionPeriod },
    ...(importQueue && importDlq
      ? { importQueueId: importQueue[0], importDlqId: importDlq[0] }
      : {}),
    bucketId,
    bucket: {
      versioned: bucket.Properties.VersioningConfiguration.Status === 'Enabled',
      sseAlgorithm: sse?.ServerSideEncryptionByDefault?.SSEAlgorithm,
      bucketKey: sse?.BucketKeyEnabled,
      blockAll:
        pab.BlockPublicAcls === true &&
        pab.BlockPublicPolicy === true &&
        pab.IgnorePublicAcls === true &&
        pab.RestrictPublicBuckets === true,
    },
    keyId,
    functionIds,
    env,
  };
}

// ---------------------------------------------------------------- clients with request counting

export class RequestCounter {
  readonly counts = new Map<string, number>();
  add(service: string, command: string): void {
    this.counts.set(service, (this.counts.get(service) ?? 0) + 1);
    const k = `${service}:${command}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }
  snapshot(): Map<string, number> {
    return new Map(this.counts);
  }
  /** Requests since `before`, keyed by service and service:command. */
  since(before: Map<string, number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.counts) {
      const d = v - (before.get(k) ?? 0);
      if (d > 0) out[k] = d;
    }
    return out;
  }
}

type Stackable = {
  middlewareStack: {
    add: (mw: Json, opts: Json) => void;
  };
};

function counted<T extends Stackable>(client: T, service: string, counter: RequestCounter): T {
  client.middlewareStack.add(
    (next: (a: unknown) => Promise<unknown>, ctx: { commandName?: string }) =>
      async (args: unknown) => {
        counter.add(service, (ctx.commandName ?? 'Unknown').replace(/Command$/, ''));
        return next(args);
      },
    { step: 'initialize', name: `rkCount${service}` },
  );
  return client;
}

export interface MotoClients extends AwsClients {
  rawDdb: DynamoDBClient;
  counter: RequestCounter;
}

export function motoClients(endpoint: string): MotoClients {
  const counter = new RequestCounter();
  const base = { endpoint, region: REGION, credentials: CREDENTIALS };
  const rawDdb = counted(new DynamoDBClient(base), 'DynamoDB', counter);
  return {
    rawDdb,
    ddb: documentClient(rawDdb) as DynamoDBDocumentClient,
    s3: counted(new S3Client({ ...base, forcePathStyle: true }), 'S3', counter),
    sqs: counted(new SQSClient(base), 'SQS', counter),
    ssm: counted(new SSMClient(base), 'SSM', counter),
    counter,
  };
}

// ---------------------------------------------------------------- provisioning

export interface Provisioned {
  prefix: string;
  tableName: string;
  bucketName: string;
  queueUrl: string;
  dlqUrl: string;
  /** The import queue (sliced ZIP import), when the template has one. */
  importQueueUrl?: string;
  kmsKeyArn: string;
  visibilityTimeout: number;
  maxReceiveCount: number;
  /** Logical id → physical name/URL/ARN, for resolving template values. */
  physical: Record<string, string>;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

async function createKmsKey(endpoint: string): Promise<string> {
  // No KMS client in the dependencies: moto speaks the JSON protocol and checks no signature.
  const r = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'TrentService.CreateKey',
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${REGION}/kms/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify({ Description: 'rk-sync test key' }),
  });
  const j = (await r.json()) as { KeyMetadata?: { Arn?: string } };
  if (!r.ok || !j.KeyMetadata?.Arn) throw new Error(`moto CreateKey failed (${r.status})`);
  return j.KeyMetadata.Arn;
}

export async function createTableFromTemplate(
  c: MotoClients,
  facts: TemplateFacts,
  tableName: string,
): Promise<void> {
  const t = facts.table;
  const input: CreateTableCommandInput = {
    TableName: tableName,
    KeySchema: t.KeySchema,
    AttributeDefinitions: t.AttributeDefinitions,
    BillingMode: t.BillingMode ?? 'PAY_PER_REQUEST',
    ...(t.GlobalSecondaryIndexes
      ? {
          GlobalSecondaryIndexes: t.GlobalSecondaryIndexes.map((g: Json) => ({
            IndexName: g.IndexName,
            KeySchema: g.KeySchema,
            Projection: g.Projection,
          })),
        }
      : {}),
  };
  await c.rawDdb.send(new CreateTableCommand(input));
  if (t.TimeToLiveSpecification?.Enabled) {
    await c.rawDdb.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: {
          AttributeName: t.TimeToLiveSpecification.AttributeName,
          Enabled: true,
        },
      }),
    );
  }
}

/** The fetch queue and its DLQ as the template defines them (a new stack creates new ones). */
export async function createQueues(
  c: MotoClients,
  facts: TemplateFacts,
  prefix: string,
  timeScale = 1,
): Promise<{ queueUrl: string; dlqUrl: string; visibilityTimeout: number }> {
  const scale = timeScale;
  const visibilityTimeout = Math.max(1, Math.ceil(facts.queue.VisibilityTimeout / scale));
  const dlq = await c.sqs.send(
    new CreateQueueCommand({
      QueueName: `${prefix}-dlq`,
      Attributes: facts.dlq.MessageRetentionPeriod
        ? { MessageRetentionPeriod: String(facts.dlq.MessageRetentionPeriod) }
        : {},
    }),
  );
  const dlqArn = (
    await c.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }),
    )
  ).Attributes?.QueueArn;
  const queue = await c.sqs.send(
    new CreateQueueCommand({
      QueueName: `${prefix}-fetch`,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeout),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: facts.queue.maxReceiveCount,
        }),
        ...(facts.queue.MessageRetentionPeriod
          ? { MessageRetentionPeriod: String(facts.queue.MessageRetentionPeriod) }
          : {}),
      },
    }),
  );
  return { queueUrl: queue.QueueUrl!, dlqUrl: dlq.QueueUrl!, visibilityTimeout };
}

/**
 * Creates the table, bucket, queues, KMS key and client-secret parameter. Times that moto
 * honours in real seconds (the visibility timeout) are divided by `timeScale`.
 */
export async function provision(
  endpoint: string,
  c: MotoClients,
  facts: TemplateFacts,
  opts: { prefix?: string; timeScale?: number; clientSecret?: { name: string; value: string } },
): Promise<Provisioned> {
  const prefix = uniqueName(opts.prefix ?? 'rk');
  const tableName = `${prefix}-table`;
  const bucketName = `${prefix}-archive`;
  const kmsKeyArn = await createKmsKey(endpoint);
  await createTableFromTemplate(c, facts, tableName);

  await c.s3.send(new CreateBucketCommand({ Bucket: bucketName }));
  if (facts.bucket.versioned) {
    await c.s3.send(
      new PutBucketVersioningCommand({
        Bucket: bucketName,
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    );
  }
  if (facts.bucket.sseAlgorithm) {
    await c.s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucketName,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: {
                SSEAlgorithm: facts.bucket.sseAlgorithm as 'aws:kms',
                ...(facts.bucket.sseAlgorithm === 'aws:kms' ? { KMSMasterKeyID: kmsKeyArn } : {}),
              },
              BucketKeyEnabled: facts.bucket.bucketKey === true,
            },
          ],
        },
      }),
    );
  }
  if (facts.bucket.blockAll) {
    await c.s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: bucketName,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      }),
    );
  }

  const { queueUrl, dlqUrl, visibilityTimeout } = await createQueues(
    c,
    facts,
    prefix,
    opts.timeScale,
  );
  if (opts.clientSecret) {
    await c.ssm.send(
      new PutParameterCommand({
        Name: opts.clientSecret.name,
        Value: opts.clientSecret.value,
        Type: 'SecureString',
        Overwrite: true,
      }),
    );
  }
  const physical: Record<string, string> = {
    [facts.tableId]: tableName,
    [facts.bucketId]: bucketName,
    [facts.queueId]: queueUrl,
    [facts.dlqId]: dlqUrl,
    [facts.keyId]: kmsKeyArn,
  };
  let importQueueUrl: string | undefined;
  if (facts.importQueueId && facts.importDlqId) {
    const iq = await createQueues(c, facts, `${prefix}-import`, opts.timeScale);
    importQueueUrl = iq.queueUrl;
    physical[facts.importQueueId] = iq.queueUrl;
    physical[facts.importDlqId] = iq.dlqUrl;
  }
  for (const [id, name] of Object.entries(facts.functionIds)) physical[id] = `${prefix}-${name}`;
  return {
    prefix,
    tableName,
    bucketName,
    queueUrl,
    dlqUrl,
    ...(importQueueUrl ? { importQueueUrl } : {}),
    kmsKeyArn,
    visibilityTimeout,
    maxReceiveCount: facts.queue.maxReceiveCount,
    physical,
  };
}

/**
 * A function's environment as the stack sets it, with CloudFormation references resolved to
 * the moto resources. Values the test cannot derive (Fn::Join URLs) come from `overrides`.
 */
export function functionEnv(
  facts: TemplateFacts,
  p: Provisioned,
  fn: HandlerName,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const vars = facts.env[fn];
  if (!vars) throw new Error(`the template has no ${fn} function`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    if (k in overrides) {
      out[k] = overrides[k]!;
      continue;
    }
    const resolved = resolve(v, p);
    if (resolved !== undefined) out[k] = resolved;
  }
  return out;
}

function resolve(v: Json, p: Provisioned): string | undefined {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if (v && typeof v === 'object') {
    if (typeof v.Ref === 'string') return p.physical[v.Ref];
    const att = v['Fn::GetAtt'];
    if (Array.isArray(att) && typeof att[0] === 'string') return p.physical[att[0]];
  }
  return undefined;
}
