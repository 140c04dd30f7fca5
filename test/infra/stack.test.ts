import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../infra/config.ts';
import {
  FETCHER_MAX_CONCURRENCY,
  MAX_RECEIVE_COUNT,
  NONCURRENT_VERSION_DAYS,
  VISIBILITY_FACTOR,
} from '../../infra/stack.ts';
import { auditAcknowledgements, buildApp } from './synth-helper.ts';

type Json = Record<string, unknown>;
interface CfnResource {
  Type: string;
  Properties?: Json;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string[];
}
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Json;
}

// One synthesis per configuration for the whole file (bundling skipped, cdk-nag registered).
// Template.fromStack runs the validation plugins: an unacknowledged cdk-nag error throws here.
const { stack } = buildApp();
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, CfnResource>;

const altered = buildApp({
  context: {
    stackName: 'RkSyncEphemeral',
    onRevoke: 'delete',
    removalPolicy: 'destroy',
    alarmEmail: 'owner@example.com',
    scheduleMinutes: '5', // -c values arrive as strings
  },
});
const alteredTemplate = Template.fromStack(altered.stack);
const alteredResources = alteredTemplate.toJSON().Resources as Record<string, CfnResource>;

const APP_FUNCTIONS = [
  'Authorize',
  'Callback',
  'Deauthorize',
  'Scheduler',
  'Fetcher',
  'Importer',
] as const;
type FnName = (typeof APP_FUNCTIONS)[number];

function logicalIdOf(res: Record<string, CfnResource>, prefix: string, type: string): string {
  const ids = Object.keys(res).filter((id) => id.startsWith(prefix) && res[id]?.Type === type);
  if (ids.length !== 1) throw new Error(`expected one ${type} ${prefix}*, found ${ids.join(',')}`);
  return ids[0]!;
}
function fn(name: FnName, res = resources): CfnResource {
  return res[logicalIdOf(res, `${name}Function`, 'AWS::Lambda::Function')]!;
}
function fnEnv(name: FnName, res = resources): Json {
  const env = fn(name, res).Properties?.Environment as { Variables: Json };
  return env.Variables;
}
/** A required property of a resource (throws if absent, so tests fail loudly). */
function prop<T>(r: CfnResource | undefined, key: string): T {
  const v = r?.Properties?.[key];
  if (v === undefined) throw new Error(`missing property ${key}`);
  return v as T;
}
function asArray<T>(v: T | T[]): T[] {
  return Array.isArray(v) ? v : [v];
}
function roleStatements(name: FnName, res = resources): Statement[] {
  const roleId = logicalIdOf(res, `${name}FunctionRole`, 'AWS::IAM::Role');
  return Object.values(res)
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(r.Properties?.Roles).includes(`"${roleId}"`),
    )
    .flatMap((r) => prop<{ Statement: Statement[] }>(r, 'PolicyDocument').Statement);
}
function actionsOf(statements: Statement[]): string[] {
  return statements.flatMap((s) => asArray(s.Action));
}
function allStatements(res: Record<string, CfnResource>): [string, Statement][] {
  const out: [string, Statement][] = [];
  for (const [id, r] of Object.entries(res)) {
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      for (const s of prop<{ Statement: Statement[] }>(r, 'PolicyDocument').Statement) {
        out.push([id, s]);
      }
    }
    if (r.Type === 'AWS::IAM::Role') {
      for (const p of (r.Properties?.Policies as {
        PolicyDocument: { Statement: Statement[] };
      }[]) ?? []) {
        for (const s of p.PolicyDocument.Statement) out.push([id, s]);
      }
    }
  }
  return out;
}
const denyInsecureTransport = Match.objectLike({
  Effect: 'Deny',
  Action: Match.anyValue(),
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
});

describe('archive bucket (X6, H6)', () => {
  const bucketId = logicalIdOf(resources, 'ArchiveBucket', 'AWS::S3::Bucket');
  const bucket = resources[bucketId]!;

  it('blocks all public access, enforces bucket-owner ownership, SSE-KMS with bucket key', () => {
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'] },
            },
          },
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
  });

  it('is retained, has no Object Lock, and only expires noncurrent versions after years', () => {
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.UpdateReplacePolicy).toBe('Retain');
    expect(bucket.Properties?.ObjectLockEnabled).toBeUndefined();
    expect(bucket.Properties?.ObjectLockConfiguration).toBeUndefined();
    const rules = prop<{ Rules: Json[] }>(bucket, 'LifecycleConfiguration').Rules;
    expect(rules).toEqual([
      expect.objectContaining({
        Status: 'Enabled',
        NoncurrentVersionExpiration: { NoncurrentDays: NONCURRENT_VERSION_DAYS },
      }),
    ]);
    expect(NONCURRENT_VERSION_DAYS).toBeGreaterThanOrEqual(3650);
    for (const rule of rules) expect(rule.ExpirationInDays).toBeUndefined();
  });

  it('denies non-TLS requests in its bucket policy', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: { Statement: Match.arrayWith([denyInsecureTransport]) },
    });
  });

  it('logs server access to a separate TLS-only, private bucket', () => {
    const logsId = logicalIdOf(resources, 'AccessLogsBucket', 'AWS::S3::Bucket');
    expect(bucket.Properties?.LoggingConfiguration).toMatchObject({
      DestinationBucketName: { Ref: logsId },
    });
    expect(resources[logsId]?.Properties?.PublicAccessBlockConfiguration).toMatchObject({
      BlockPublicAcls: true,
      RestrictPublicBuckets: true,
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logsId },
      PolicyDocument: { Statement: Match.arrayWith([denyInsecureTransport]) },
    });
  });

  it('notifies the importer for imports/*.zip only', () => {
    const importerId = logicalIdOf(resources, 'ImporterFunction', 'AWS::Lambda::Function');
    const notifications = Object.values(resources).filter(
      (r) => r.Type === 'Custom::S3BucketNotifications',
    );
    expect(notifications).toHaveLength(1);
    expect(notifications[0]?.Properties?.BucketName).toEqual({ Ref: bucketId });
    const configs = prop<{ LambdaFunctionConfigurations: Json[] }>(
      notifications[0],
      'NotificationConfiguration',
    ).LambdaFunctionConfigurations;
    expect(configs).toHaveLength(1);
    const [config] = configs as {
      Events: string[];
      Filter: { Key: { FilterRules: { Name: string; Value: string }[] } };
      LambdaFunctionArn: unknown;
    }[];
    expect(config?.Events).toEqual(['s3:ObjectCreated:*']);
    expect(config?.LambdaFunctionArn).toEqual({ 'Fn::GetAtt': [importerId, 'Arn'] });
    const rules = [...(config?.Filter.Key.FilterRules ?? [])].sort((a, b) =>
      a.Name.localeCompare(b.Name),
    );
    expect(rules).toEqual([
      { Name: 'prefix', Value: 'imports/' },
      { Name: 'suffix', Value: '.zip' },
    ]);
  });
});

describe('ledger table', () => {
  const table = resources[logicalIdOf(resources, 'Table', 'AWS::DynamoDB::Table')]!;

  it('has pk/sk, the byWork GSI, TTL on expiresAt, on-demand billing', () => {
    expect(table.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: expect.arrayContaining([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'workPk', AttributeType: 'S' },
        { AttributeName: 'workSk', AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byWork',
          KeySchema: [
            { AttributeName: 'workPk', KeyType: 'HASH' },
            { AttributeName: 'workSk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('has PITR, CMK encryption, deletion protection and RETAIN', () => {
    expect(table.Properties).toMatchObject({
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'] },
      },
      DeletionProtectionEnabled: true,
    });
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });
});

describe('KMS key', () => {
  it('rotates and is retained', () => {
    const key = resources[logicalIdOf(resources, 'DataKey', 'AWS::KMS::Key')]!;
    expect(key.Properties?.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
  });
});

describe('import queue and DLQ (issue 14 §1)', () => {
  const queueId = logicalIdOf(resources, 'ImportQueue', 'AWS::SQS::Queue');
  const dlqId = logicalIdOf(resources, 'ImportDeadLetterQueue', 'AWS::SQS::Queue');
  const queue = resources[queueId]!;
  const importerId = logicalIdOf(resources, 'ImporterFunction', 'AWS::Lambda::Function');

  it('feeds the importer one slice at a time, redrives to an alarmed DLQ, outlives 6 timeouts', () => {
    const esm = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::Lambda::EventSourceMapping' &&
        JSON.stringify(r.Properties?.EventSourceArn).includes(queueId),
    );
    expect(esm).toHaveLength(1);
    expect(esm[0]!.Properties?.FunctionName).toEqual({ Ref: importerId });
    expect(esm[0]!.Properties?.BatchSize).toBe(1);
    expect(queue.Properties?.VisibilityTimeout).toBeGreaterThanOrEqual(
      VISIBILITY_FACTOR * (resources[importerId]!.Properties?.Timeout as number),
    );
    expect(queue.Properties?.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
      maxReceiveCount: MAX_RECEIVE_COUNT,
    });
    const alarms = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::CloudWatch::Alarm' &&
        JSON.stringify(r.Properties?.Dimensions ?? r.Properties?.Metrics).includes(dlqId),
    );
    expect(alarms).toHaveLength(1);
  });
});

describe('fetch queue and DLQ (H1, H2, F13)', () => {
  const queueId = logicalIdOf(resources, 'FetchQueue', 'AWS::SQS::Queue');
  const dlqId = logicalIdOf(resources, 'FetchDeadLetterQueue', 'AWS::SQS::Queue');
  const queue = resources[queueId]!;
  const dlq = resources[dlqId]!;
  const esm = Object.values(resources).filter(
    (r) =>
      r.Type === 'AWS::Lambda::EventSourceMapping' &&
      JSON.stringify(r.Properties?.EventSourceArn).includes(queueId),
  );

  it('visibility timeout is at least 6 x the consuming function timeout', () => {
    expect(esm).toHaveLength(1);
    const target = esm[0]!.Properties?.FunctionName as { Ref: string };
    const consumer = resources[target.Ref]!;
    const timeout = consumer.Properties?.Timeout as number;
    expect(timeout).toBe(fn('Fetcher').Properties?.Timeout);
    expect(queue.Properties?.VisibilityTimeout as number).toBeGreaterThanOrEqual(
      VISIBILITY_FACTOR * timeout,
    );
    expect(VISIBILITY_FACTOR).toBeGreaterThanOrEqual(6);
  });

  it('redrives to the DLQ after at least 5 receives; DLQ keeps 14 days', () => {
    const redrive = queue.Properties?.RedrivePolicy as {
      maxReceiveCount: number;
      deadLetterTargetArn: unknown;
    };
    expect(redrive.maxReceiveCount).toBeGreaterThanOrEqual(5);
    expect(redrive.maxReceiveCount).toBe(MAX_RECEIVE_COUNT);
    expect(redrive.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': [dlqId, 'Arn'] });
    expect(dlq.Properties?.MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });

  it('both queues are KMS-encrypted with the CMK and deny non-TLS access', () => {
    for (const [id, q] of [
      [queueId, queue],
      [dlqId, dlq],
    ] as const) {
      expect(q.Properties?.KmsMasterKeyId).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'],
      });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: { Statement: Match.arrayWith([denyInsecureTransport]) },
      });
    }
  });

  it('the fetcher ESM has batch size 1, partial batch responses and MaximumConcurrency', () => {
    expect(esm[0]!.Properties).toMatchObject({
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: FETCHER_MAX_CONCURRENCY },
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
    });
    expect(FETCHER_MAX_CONCURRENCY).toBe(2);
  });

  it('H1: no function has reserved concurrency (1 would throttle the SQS pollers)', () => {
    for (const r of Object.values(resources)) {
      if (r.Type === 'AWS::Lambda::Function') {
        expect(r.Properties?.ReservedConcurrentExecutions).toBeUndefined();
      }
    }
  });
});

describe('functions', () => {
  it('the six app functions run nodejs24.x on arm64 with their own log group with retention', () => {
    for (const name of APP_FUNCTIONS) {
      const props = fn(name).Properties!;
      expect(props.Runtime, name).toBe('nodejs24.x');
      expect(props.Architectures, name).toEqual(['arm64']);
      expect(props.Handler, name).toBe('index.handler');
      const logGroupRef = (props.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      const logGroup = resources[logGroupRef]!;
      expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
      expect(logGroup.Properties?.RetentionInDays, name).toBe(90);
      expect(fnEnv(name)).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'rk-sync',
        POWERTOOLS_METRICS_NAMESPACE: 'RkSync',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      });
    }
  });

  it('every nodejs Lambda in the template is an app function on nodejs24.x', () => {
    const nodeFns = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::Lambda::Function' && String(r.Properties?.Runtime).startsWith('nodejs'),
    );
    expect(nodeFns).toHaveLength(APP_FUNCTIONS.length);
    for (const f of nodeFns) expect(f.Properties?.Runtime).toBe('nodejs24.x');
  });

  it('uses the agreed memory sizes and timeouts', () => {
    const expected: Record<FnName, [number, number]> = {
      Authorize: [256, 10],
      Callback: [256, 15],
      Deauthorize: [256, 15],
      Scheduler: [256, 120],
      Fetcher: [256, 30],
      Importer: [1024, 900],
    };
    for (const name of APP_FUNCTIONS) {
      const p = fn(name).Properties!;
      expect([p.MemorySize, p.Timeout], name).toEqual(expected[name]);
    }
  });

  it('passes each function exactly the environment variables it needs', () => {
    const common = [
      'NODE_OPTIONS',
      'POWERTOOLS_LOG_LEVEL',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
    ];
    const expected: Record<FnName, string[]> = {
      Authorize: ['AUTH_BASE_URL', 'CLIENT_ID', 'REDIRECT_URI', 'TABLE_NAME'],
      Callback: [
        'API_BASE_URL',
        'AUTH_BASE_URL',
        'CLIENT_ID',
        'CLIENT_SECRET_PARAM',
        'RATE_LIMIT_CALLS',
        'RATE_LIMIT_WINDOW_SECONDS',
        'REDIRECT_URI',
        'SCHEDULER_FUNCTION_NAME',
        'TABLE_NAME',
        'TOKEN_KMS_KEY_ID',
        'TOKEN_PARAM_PREFIX',
      ],
      Deauthorize: ['ON_REVOKE', 'TABLE_NAME', 'TOKEN_PARAM_PREFIX'],
      Scheduler: [
        'API_BASE_URL',
        'BUCKET_NAME',
        'QUEUE_URL',
        'RATE_LIMIT_CALLS',
        'RATE_LIMIT_WINDOW_SECONDS',
        'SCHEDULE_MINUTES',
        'TABLE_NAME',
        'TOKEN_PARAM_PREFIX',
      ],
      Fetcher: [
        'API_BASE_URL',
        'BUCKET_NAME',
        'QUEUE_URL',
        'RATE_LIMIT_CALLS',
        'RATE_LIMIT_WINDOW_SECONDS',
        'TABLE_NAME',
        'TOKEN_PARAM_PREFIX',
      ],
      Importer: ['BUCKET_NAME', 'IMPORT_QUEUE_URL', 'TABLE_NAME'],
    };
    for (const name of APP_FUNCTIONS) {
      expect(Object.keys(fnEnv(name)).sort(), name).toEqual([...common, ...expected[name]].sort());
    }
    expect(fnEnv('Scheduler')).toMatchObject({
      SCHEDULE_MINUTES: '15',
      RATE_LIMIT_CALLS: '100',
      RATE_LIMIT_WINDOW_SECONDS: '900',
      TOKEN_PARAM_PREFIX: '/rk-sync/RkSync/tokens/',
      API_BASE_URL: 'https://api.runkeeper.com',
    });
    expect(fnEnv('Callback')).toMatchObject({
      CLIENT_ID: 'test-client-id',
      AUTH_BASE_URL: 'https://runkeeper.com',
      TOKEN_KMS_KEY_ID: { 'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'] },
      SCHEDULER_FUNCTION_NAME: {
        Ref: logicalIdOf(resources, 'SchedulerFunction', 'AWS::Lambda::Function'),
      },
    });
    expect(fnEnv('Deauthorize').ON_REVOKE).toBe('keep');
    expect(fnEnv('Deauthorize', alteredResources)).toMatchObject({ ON_REVOKE: 'delete' });
    expect(fnEnv('Deauthorize', alteredResources).BUCKET_NAME).toBeDefined();
  });

  it('the scheduler runs on a rate() schedule from context, without Lambda retries', () => {
    const schedulerArn = {
      'Fn::GetAtt': [logicalIdOf(resources, 'SchedulerFunction', 'AWS::Lambda::Function'), 'Arn'],
    };
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(15 minutes)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: schedulerArn })],
    });
    alteredTemplate.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
    });
    expect(fnEnv('Scheduler', alteredResources).SCHEDULE_MINUTES).toBe('5');
  });
});

describe('HTTP API', () => {
  it('routes GET /authorize, GET /callback, POST /deauthorize to their functions', () => {
    const routes = Object.values(resources)
      .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
      .map((r) => r.Properties?.RouteKey)
      .sort();
    expect(routes).toEqual(['GET /authorize', 'GET /callback', 'POST /deauthorize']);
  });

  it('throttles the stage and writes access logs without query strings', () => {
    const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!;
    expect(stage.Properties).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingBurstLimit: 10, ThrottlingRateLimit: 5 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } },
    });
    const format = prop<{ Format: string }>(stage, 'AccessLogSettings').Format;
    expect(format).toContain('$context.requestId');
    // OAuth code and state travel in the query string: never log path or querystring.
    expect(format).not.toMatch(/\$context\.(path|requestOverride|querystring)|\$input/i);
  });

  it('X18: the callback and deauthorize routes have their own throttle buckets', () => {
    const [stageId, stage] = Object.entries(resources).find(
      ([, r]) => r.Type === 'AWS::ApiGatewayV2::Stage',
    )!;
    expect(stage.Properties?.RouteSettings).toEqual({
      'GET /authorize': { ThrottlingRateLimit: 2, ThrottlingBurstLimit: 5 },
      'GET /callback': { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
      'POST /deauthorize': { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
    });
    // Route settings name routes: the stage is created (and updated) after them.
    const routeIds = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Route')
      .map(([id]) => id);
    expect(routeIds).toHaveLength(3);
    for (const id of routeIds) expect(stage.DependsOn ?? [], stageId).toContain(id);
  });
});

describe('alarms', () => {
  const topicId = logicalIdOf(resources, 'AlarmTopic', 'AWS::SNS::Topic');

  it('alarms on any message in the DLQ', () => {
    const dlqId = logicalIdOf(resources, 'FetchDeadLetterQueue', 'AWS::SQS::Queue');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it('alarms on the AccountRevoked custom metric the handlers publish', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'RkSync',
      MetricName: 'AccountRevoked',
      Dimensions: [{ Name: 'service', Value: 'rk-sync' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it('the alarm topic is KMS-encrypted and TLS-only; e-mail subscription only when configured', () => {
    expect(resources[topicId]?.Properties?.KmsMasterKeyId).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'],
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: { Statement: Match.arrayWith([denyInsecureTransport]) },
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    alteredTemplate.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'owner@example.com',
    });
  });

  it('the key lets CloudWatch publish to the encrypted topic', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });
});

describe('outputs', () => {
  it('exposes what the operator needs', () => {
    const outputs = Object.keys(template.toJSON().Outputs as Json);
    for (const name of [
      'AuthorizeUrl',
      'CallbackUrl',
      'DeauthorizeUrl',
      'BucketName',
      'TableName',
      'QueueUrl',
      'DeadLetterQueueUrl',
      'ClientSecretParameter',
      'SchedulerFunctionName',
    ]) {
      expect(outputs).toContain(name);
    }
    template.hasOutput('ClientSecretParameter', { Value: '/rk-sync/client-secret' });
    template.hasOutput('CallbackUrl', {
      Value: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/callback$')])] },
    });
  });
});

describe('secrets (INV-SECRET, V13.3.1)', () => {
  it('no SSM parameter or Secrets Manager secret is created by the template', () => {
    const types = new Set(Object.values(resources).map((r) => r.Type));
    expect(types.has('AWS::SSM::Parameter')).toBe(false);
    expect(types.has('AWS::SecretsManager::Secret')).toBe(false);
  });

  it('env vars named like *SECRET* hold only an SSM parameter name', () => {
    for (const r of Object.values(resources)) {
      if (r.Type !== 'AWS::Lambda::Function') continue;
      const vars = ((r.Properties?.Environment as { Variables?: Json })?.Variables ?? {}) as Json;
      for (const [name, value] of Object.entries(vars)) {
        if (/secret|token|password|key/i.test(name) && name !== 'TOKEN_KMS_KEY_ID') {
          expect(typeof value, name).toBe('string');
          expect(value, name).toMatch(/^\/[A-Za-z0-9_.\-/]+$/);
        }
      }
    }
  });

  it('refuses a client secret passed as context', () => {
    const app = new App({ context: { clientSecret: 'hunter2' } });
    expect(() => loadConfig(app)).toThrow(/aws ssm put-parameter/);
  });
});

describe('IAM least privilege (X4)', () => {
  const statements = allStatements(resources);

  it('no statement grants Action "*" or a whole service', () => {
    for (const [id, s] of statements) {
      for (const a of asArray(s.Action)) {
        expect(a, id).not.toBe('*');
        expect(a, id).not.toMatch(/^[a-z0-9-]+:\*$/);
      }
    }
  });

  it('no s3/ssm/dynamodb action is granted on Resource "*"', () => {
    for (const [id, s] of statements) {
      if (!asArray(s.Resource).includes('*')) continue;
      const data = asArray(s.Action).filter((a) => /^(s3|ssm|dynamodb):/.test(a));
      if (id.startsWith('BucketNotificationsHandler')) {
        // CDK's own custom resource that installs the imports/*.zip notification at deploy
        // time: its single Resource-* statement may only configure bucket notifications.
        expect(data).toEqual(['s3:PutBucketNotification']);
        continue;
      }
      expect(data, id).toEqual([]);
    }
  });

  it('the fetcher can read/write data prefixes but never delete, and no imports/', () => {
    const st = roleStatements('Fetcher');
    const actions = actionsOf(st);
    expect(actions.some((a) => /^s3:Delete/.test(a))).toBe(false);
    expect(actions).toEqual(
      expect.arrayContaining([
        's3:GetObject',
        's3:PutObject',
        'sqs:SendMessage',
        'ssm:GetParameter',
      ]),
    );
    const s3Resources = JSON.stringify(
      st.filter((s) => asArray(s.Action).includes('s3:PutObject')).map((s) => s.Resource),
    );
    for (const p of ['raw', 'gpx', 'tcx', 'geojson', 'index', 'media'])
      expect(s3Resources).toContain(`/${p}/*`);
    expect(s3Resources).not.toContain('/imports/*');
    expect(actions.some((a) => /^ssm:(Put|Delete)/.test(a))).toBe(false);
  });

  it('token parameters are scoped to the stack prefix; only the callback may write them', () => {
    const prefix = ':parameter/rk-sync/RkSync/tokens/*';
    for (const name of APP_FUNCTIONS) {
      const ssm = roleStatements(name).filter((s) =>
        asArray(s.Action).some((a) => a.startsWith('ssm:')),
      );
      for (const s of ssm) {
        const res = JSON.stringify(s.Resource);
        expect(
          res.includes(prefix) || res.includes(':parameter/rk-sync/client-secret"'),
          name,
        ).toBe(true);
      }
      const writes = actionsOf(ssm).filter((a) => a === 'ssm:PutParameter');
      expect(writes.length > 0, name).toBe(name === 'Callback');
    }
    const secret = roleStatements('Callback').find((s) =>
      JSON.stringify(s.Resource).includes(':parameter/rk-sync/client-secret"'),
    );
    expect(asArray(secret!.Action)).toEqual(['ssm:GetParameter']);
  });

  it('the callback may invoke the scheduler (and nothing else may)', () => {
    const schedulerId = logicalIdOf(resources, 'SchedulerFunction', 'AWS::Lambda::Function');
    for (const name of APP_FUNCTIONS) {
      const invoke = roleStatements(name).filter((s) =>
        asArray(s.Action).includes('lambda:InvokeFunction'),
      );
      if (name === 'Callback') {
        expect(invoke).toHaveLength(1);
        // Unqualified ARN (+ its $LATEST alias form): no other function, no versions.
        expect(invoke[0]!.Resource).toEqual([
          { 'Fn::GetAtt': [schedulerId, 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [schedulerId, 'Arn'] }, ':$LATEST']] },
        ]);
      } else {
        expect(invoke, name).toEqual([]);
      }
    }
  });

  it('the scheduler writes only index/ and report/, reads raw/derived for the manifest, never deletes', () => {
    const st = roleStatements('Scheduler');
    const s3St = st.filter((s) => asArray(s.Action).some((a) => a.startsWith('s3:')));
    const actions = actionsOf(s3St);
    expect(actions.some((a) => /^s3:Delete/.test(a))).toBe(false);
    const puts = JSON.stringify(
      s3St.filter((s) => asArray(s.Action).includes('s3:PutObject')).map((s) => s.Resource),
    );
    expect(puts).toContain('/index/*');
    expect(puts).toContain('/report/*');
    for (const p of ['raw', 'gpx', 'tcx', 'geojson', 'media', 'imports'])
      expect(puts).not.toContain(`/${p}/*"`);
    // Under raw/ only the three singleton documents, one key per user each.
    for (const d of ['profile', 'settings', 'records'])
      expect(puts).toContain(`/raw/*/${d}/latest.json`);
    expect(puts.match(/\/raw\//g)).toHaveLength(3);
    const gets = JSON.stringify(
      s3St.filter((s) => asArray(s.Action).includes('s3:GetObject')).map((s) => s.Resource),
    );
    for (const p of ['index', 'raw', 'gpx', 'tcx', 'geojson']) expect(gets).toContain(`/${p}/*`);
    expect(gets).not.toContain('/media/*');
    expect(gets).not.toContain('/imports/*');
  });

  it('S3 access per function: none for authorize/callback, deletes only on onRevoke=delete', () => {
    for (const name of ['Authorize', 'Callback', 'Deauthorize'] as const) {
      expect(
        actionsOf(roleStatements(name)).filter((a) => a.startsWith('s3:')),
        name,
      ).toEqual([]);
    }
    const delSt = roleStatements('Deauthorize', alteredResources);
    const del = actionsOf(delSt);
    expect(del).toEqual(expect.arrayContaining(['s3:DeleteObject', 's3:DeleteObjectVersion']));
    const delResources = JSON.stringify(
      delSt.filter((s) => asArray(s.Action).includes('s3:DeleteObject')).map((s) => s.Resource),
    );
    // Every prefix the deauthorize purge walks (USER_DATA_PREFIXES), photos included.
    for (const p of ['raw', 'gpx', 'tcx', 'geojson', 'index', 'media', 'imports', 'report'])
      expect(delResources).toContain(`/${p}/*`);
    const importer = actionsOf(roleStatements('Importer'));
    expect(importer.some((a) => /^s3:Delete/.test(a))).toBe(false);
  });

  it('no function role uses the AWSLambdaBasicExecutionRole managed policy', () => {
    for (const name of APP_FUNCTIONS) {
      const role = resources[logicalIdOf(resources, `${name}FunctionRole`, 'AWS::IAM::Role')]!;
      expect(role.Properties?.ManagedPolicyArns, name).toBeUndefined();
    }
  });
});

/** Every action of a function on one service, sorted and unique. */
function serviceActions(name: FnName, service: string, res = resources): string[] {
  return [
    ...new Set(actionsOf(roleStatements(name, res)).filter((a) => a.startsWith(`${service}:`))),
  ].sort();
}

describe('IAM per function (X17, issue #12)', () => {
  const statements = () => allStatements(resources);
  const tableId = logicalIdOf(resources, 'Table', 'AWS::DynamoDB::Table');
  const keyId = logicalIdOf(resources, 'DataKey', 'AWS::KMS::Key');

  it('each function gets exactly the table actions its code performs', () => {
    const expected: Record<FnName, string[]> = {
      Authorize: ['dynamodb:GetItem', 'dynamodb:PutItem'],
      Callback: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
      Deauthorize: [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
      ],
      Fetcher: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
      Importer: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      Scheduler: [
        'dynamodb:BatchGetItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
      ],
    };
    for (const name of APP_FUNCTIONS) {
      expect([name, serviceActions(name, 'dynamodb')]).toEqual([name, expected[name]]);
      // The same in the other configuration (onRevoke=delete, ephemeral).
      expect([name, serviceActions(name, 'dynamodb', alteredResources)]).toEqual([
        name,
        expected[name],
      ]);
    }
    const all = statements().flatMap(([, st]) => asArray(st.Action));
    for (const a of ['dynamodb:Scan', 'dynamodb:BatchWriteItem']) expect(all).not.toContain(a);
    // UpdateItem only for the import job's pending set (an atomic, idempotent set DELETE).
    const updaters = APP_FUNCTIONS.filter((n) =>
      serviceActions(n, 'dynamodb').includes('dynamodb:UpdateItem'),
    );
    expect(updaters).toEqual(['Importer']);
  });

  it('the public functions reach only their own items (dynamodb:LeadingKeys)', () => {
    const leading = (name: FnName) =>
      roleStatements(name)
        .filter((st) => asArray(st.Action).some((a) => a.startsWith('dynamodb:')))
        .map((st) => st.Condition?.['ForAllValues:StringLike']);
    expect(leading('Authorize')).toEqual([{ 'dynamodb:LeadingKeys': ['STATE#*', 'INVITE#*'] }]);
    expect(leading('Callback')).toEqual([
      { 'dynamodb:LeadingKeys': ['STATE#*', 'INVITE#*', 'OWNER', 'ACCOUNTS', 'BUDGET#*'] },
    ]);
    expect(leading('Deauthorize')).toEqual([{ 'dynamodb:LeadingKeys': ['ACCOUNTS', 'USER#*'] }]);
    expect(leading('Importer')).toEqual([{ 'dynamodb:LeadingKeys': ['ACCOUNTS', 'IMPORT#*'] }]);
    // Only the scheduler queries the byWork index.
    for (const name of APP_FUNCTIONS) {
      const res = JSON.stringify(
        roleStatements(name)
          .filter((st) => asArray(st.Action).some((a) => a.startsWith('dynamodb:')))
          .map((st) => st.Resource),
      );
      expect([name, res.includes('/index/*')]).toEqual([name, name === 'Scheduler']);
      expect(res).toContain(tableId);
    }
  });

  it('every use of the stack key goes through a service (kms:ViaService); no ReEncrypt', () => {
    const uses: Record<string, string[]> = {};
    for (const name of APP_FUNCTIONS) {
      for (const st of roleStatements(name)) {
        const actions = asArray(st.Action).filter((a) => a.startsWith('kms:'));
        if (actions.length === 0) continue;
        expect(JSON.stringify(st.Resource), name).toContain(keyId);
        const via = (st.Condition?.StringEquals as Json | undefined)?.['kms:ViaService'];
        expect(via, `${name} ${actions.join(',')}`).toBeDefined();
        // {"Fn::Join": ["", ["dynamodb.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
        const svc = JSON.stringify(via).match(/"(dynamodb|s3|sqs|ssm)\./)?.[1] ?? 'unknown';
        const k = `${name} ${svc}`;
        uses[k] = [...(uses[k] ?? []), ...actions];
      }
    }
    const sorted = Object.fromEntries(
      Object.entries(uses).map(([k, v]) => [k, [...new Set(v)].sort()]),
    );
    const write = ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'];
    expect(sorted).toEqual({
      'Authorize dynamodb': write,
      'Callback dynamodb': write,
      'Callback ssm': ['kms:Decrypt', 'kms:Encrypt'],
      'Deauthorize dynamodb': write,
      'Deauthorize ssm': ['kms:Decrypt'],
      'Fetcher dynamodb': write,
      'Fetcher s3': ['kms:Decrypt', 'kms:GenerateDataKey'],
      'Fetcher sqs': ['kms:Decrypt', 'kms:GenerateDataKey'],
      'Fetcher ssm': ['kms:Decrypt'],
      'Importer dynamodb': write,
      'Importer s3': ['kms:Decrypt', 'kms:GenerateDataKey'],
      'Importer sqs': ['kms:Decrypt', 'kms:GenerateDataKey'],
      'Scheduler dynamodb': write,
      'Scheduler s3': ['kms:Decrypt', 'kms:GenerateDataKey'],
      'Scheduler sqs': ['kms:Decrypt', 'kms:GenerateDataKey'],
      'Scheduler ssm': ['kms:Decrypt'],
    });
    const all = statements().flatMap(([, st]) => asArray(st.Action));
    expect(all.filter((a) => /^kms:ReEncrypt/.test(a))).toEqual([]);
  });

  it('queues: send only where needed; the fetcher consumes its queue with the Lambda SQS set', () => {
    expect(serviceActions('Scheduler', 'sqs')).toEqual(['sqs:SendMessage']);
    expect(serviceActions('Fetcher', 'sqs')).toEqual([
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
      'sqs:SendMessage',
    ]);
    // The importer sends and consumes its own import queue (sliced ZIP import).
    expect(serviceActions('Importer', 'sqs')).toEqual([
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
      'sqs:SendMessage',
    ]);
    for (const name of ['Authorize', 'Callback', 'Deauthorize'] as const)
      expect(serviceActions(name, 'sqs'), name).toEqual([]);
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  it('has zero unacknowledged errors or warnings', () => {
    for (const s of [stack, altered.stack]) {
      const report = new AwsSolutionsChecks().validateScope(s);
      expect(report.violations.map((v) => `${v.ruleName} ${v.severity}`)).toEqual([]);
    }
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  });

  it('every acknowledgement matches a real finding on that resource (no stale acks)', () => {
    for (const context of [{}, { onRevoke: 'delete', removalPolicy: 'destroy' }]) {
      const { acks, stale } = auditAcknowledgements(context);
      expect(acks.length).toBeGreaterThan(0);
      expect(stale).toEqual([]);
    }
  });
});

describe('config', () => {
  const load = (context: Json) => loadConfig(new App({ context }));

  it('defaults', () => {
    const c = load({});
    expect(c).toMatchObject({
      clientId: 'REPLACE_ME',
      clientSecretParameter: '/rk-sync/client-secret',
      scheduleMinutes: 15,
      rateLimitCalls: 100,
      rateLimitWindowSeconds: 900,
      onRevoke: 'keep',
      apiBaseUrl: 'https://api.runkeeper.com',
      authBaseUrl: 'https://runkeeper.com',
      alarmEmail: undefined,
    });
  });

  it('warns at synth when clientId is not set', () => {
    const app = new App();
    loadConfig(app);
    expect(JSON.stringify(app.node.metadata)).toContain('clientId is not set');
  });

  it('rejects invalid values', () => {
    expect(() => load({ scheduleMinutes: 0 })).toThrow(/scheduleMinutes/);
    expect(() => load({ scheduleMinutes: '7.5' })).toThrow(/scheduleMinutes/);
    expect(() => load({ onRevoke: 'purge' })).toThrow(/onRevoke/);
    expect(() => load({ apiBaseUrl: 'http://api.example.com' })).toThrow(/https/);
    expect(() => load({ alarmEmail: 'nope' })).toThrow(/alarmEmail/);
    expect(() => load({ clientSecretParameter: 'no-leading-slash' })).toThrow(
      /clientSecretParameter/,
    );
    expect(load({ apiBaseUrl: 'http://127.0.0.1:8080/' }).apiBaseUrl).toBe('http://127.0.0.1:8080');
  });

  it('ephemeral stages destroy data resources; default retains', () => {
    const table = alteredResources[logicalIdOf(alteredResources, 'Table', 'AWS::DynamoDB::Table')]!;
    expect(table.DeletionPolicy).toBe('Delete');
    expect(table.Properties?.DeletionProtectionEnabled).toBe(false);
    expect(fnEnv('Fetcher', alteredResources).TOKEN_PARAM_PREFIX).toBe(
      '/rk-sync/RkSyncEphemeral/tokens/',
    );
  });
});
