/**
 * The opt-in Strava mirror (`-c strava=true -c stravaClientId=…`): a push queue with its DLQ
 * and alarm, the Strava pusher function (SQS consumer, batch 1, MaximumConcurrency 2, like the
 * fetcher) and an EventBridge schedule that drops a tick on the queue every schedule period, so
 * each newly synced activity reaches Strava within a period of appearing in the index.
 * Same patterns as the fetch path: AppFunction, exact grants, cdk-nag acknowledged with reasons.
 * The client secret is an SSM SecureString you create; the athlete's tokens live under
 * `/rk-sync/{stack}/strava-tokens/{userId}` (written by `rk-sync link strava --aws`).
 */
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { grantKeyVia } from '../grants.ts';
import { AppFunction } from './app-function.ts';

export const STRAVA_PUSHER_TIMEOUT = Duration.seconds(300);

export interface StravaSettings {
  clientId: string;
  clientSecretParameter: string;
  limits: string;
  mute: boolean;
  apiBaseUrl: string;
  oauthBaseUrl: string;
}

/** The Strava settings from CDK context, or undefined when the mirror is not enabled. */
export function stravaSettings(scope: Construct): StravaSettings | undefined {
  const ctx = (k: string) => scope.node.tryGetContext(k) as string | boolean | undefined;
  const on = ctx('strava');
  if (on !== true && on !== 'true') return undefined;
  const clientId = ctx('stravaClientId');
  if (typeof clientId !== 'string' && typeof clientId !== 'number') {
    throw new Error('-c strava=true needs -c stravaClientId=<your Strava client id>');
  }
  const limits = String(ctx('stravaLimits') ?? '200,2000,100,1000');
  if (!/^\d+,\d+,\d+,\d+$/.test(limits))
    throw new Error('stravaLimits: four integers, e.g. 200,2000,100,1000');
  return {
    clientId: String(clientId),
    clientSecretParameter: String(
      ctx('stravaClientSecretParameter') ?? '/rk-sync/strava-client-secret',
    ),
    limits,
    mute: String(ctx('stravaMute') ?? 'true') !== 'false',
    apiBaseUrl: String(ctx('stravaApiBaseUrl') ?? 'https://www.strava.com/api/v3'),
    oauthBaseUrl: String(ctx('stravaOauthBaseUrl') ?? 'https://www.strava.com/oauth'),
  };
}

export interface StravaMirrorProps {
  settings: StravaSettings;
  table: dynamodb.ITable;
  bucket: s3.IBucket;
  key: kms.IKey | undefined;
  queueEncryption: Pick<sqs.QueueProps, 'encryption' | 'encryptionMasterKey' | 'dataKeyReuse'>;
  removalPolicy: RemovalPolicy;
  alarmAction: SnsAction;
  logLevel: string;
  scheduleMinutes: number;
  maxReceiveCount: number;
  visibilityFactor: number;
  maxConcurrency: number;
  /** cdk-nag finding text of the table's index grant, and its reason (shared with the stack). */
  tableIndexFinding: string;
  tableIndexReason: string;
}

export class StravaMirror extends Construct {
  readonly pusher: AppFunction;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly tokenParamPrefix: string;

  constructor(scope: Construct, id: string, p: StravaMirrorProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.tokenParamPrefix = `/rk-sync/${stack.stackName}/strava-tokens/`;
    this.deadLetterQueue = new sqs.Queue(this, 'PushDeadLetterQueue', {
      ...p.queueEncryption,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: p.removalPolicy,
    });
    this.queue = new sqs.Queue(this, 'PushQueue', {
      ...p.queueEncryption,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(STRAVA_PUSHER_TIMEOUT.toSeconds() * p.visibilityFactor),
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: p.maxReceiveCount },
      removalPolicy: p.removalPolicy,
    });
    new cloudwatch.Alarm(this, 'PushDeadLetterQueueAlarm', {
      alarmDescription:
        'rk-sync: a Strava push tick failed repeatedly and reached the dead-letter queue. ' +
        'Check the pusher logs (Strava down, revoked, or a bug); later ticks keep trying.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(p.alarmAction);

    const s = p.settings;
    this.pusher = new AppFunction(stack, 'StravaPusherFunction', {
      handlerName: 'strava-pusher',
      description: 'Strava mirror: push newly archived activities within Strava rate limits',
      timeout: STRAVA_PUSHER_TIMEOUT,
      logLevel: p.logLevel,
      environment: {
        TABLE_NAME: p.table.tableName,
        BUCKET_NAME: p.bucket.bucketName,
        STRAVA_CLIENT_ID: s.clientId,
        STRAVA_CLIENT_SECRET_PARAM: s.clientSecretParameter,
        STRAVA_TOKEN_PARAM_PREFIX: this.tokenParamPrefix,
        STRAVA_API_BASE_URL: s.apiBaseUrl,
        STRAVA_OAUTH_BASE_URL: s.oauthBaseUrl,
        STRAVA_LIMITS: s.limits,
        STRAVA_MUTE: String(s.mute),
        ...(p.key ? { TOKEN_KMS_KEY_ID: p.key.keyArn } : {}),
      },
    });
    const fn = this.pusher;
    p.table.grantReadWriteData(fn);
    // Reads the assembled index and the raw documents it names; writes nothing to the bucket.
    fn.grantActions(
      ['s3:GetObject'],
      [p.bucket.arnForObjects('index/*'), p.bucket.arnForObjects('raw/*')],
    );
    fn.grantActions(['s3:ListBucket'], [p.bucket.bucketArn]);
    const paramArn = (name: string) =>
      stack.formatArn({
        service: 'ssm',
        resource: 'parameter',
        resourceName: name.replace(/^\//, ''),
      });
    fn.grantActions(['ssm:GetParameter'], [paramArn(s.clientSecretParameter)]);
    // Refreshed tokens are written back (rotating refresh tokens).
    fn.grantActions(
      ['ssm:GetParameter', 'ssm:PutParameter'],
      [paramArn(`${this.tokenParamPrefix}*`)],
    );
    // Key use only through SSM (tokens, written back on rotation) and S3 (reads).
    grantKeyVia(fn, p.key, 'ssm', 'ssmWrite');
    grantKeyVia(fn, p.key, 's3', 's3Read');
    if (p.key) {
      fn.acknowledgeWildcards(
        ['Action::kms:GenerateDataKey*', 'Action::kms:ReEncrypt*'],
        "CDK's table.grantReadWriteData adds the key actions DynamoDB needs for the table's " +
          'encryption under the stack key (GenerateDataKey*/ReEncrypt* are its fixed set); ' +
          'the key is used by no other service from this role.',
      );
    }
    fn.acknowledgeWildcards([p.tableIndexFinding], p.tableIndexReason);
    const bucketToken = `<${stack.resolve(stack.getLogicalId(p.bucket.node.defaultChild as never))}.Arn>`;
    fn.acknowledgeWildcards(
      [`Resource::${bucketToken}/index/*`, `Resource::${bucketToken}/raw/*`],
      'The pusher reads index/{userId}/activities.ndjson and the raw documents it lists; ids are ' +
        'known only at runtime, so reads are limited to those two prefixes (no writes, no delete).',
    );
    fn.acknowledgeWildcards(
      [
        `Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter${this.tokenParamPrefix}*`,
      ],
      `One SecureString per athlete lives under ${this.tokenParamPrefix}; the user id is only known ` +
        'at runtime, so the grant covers exactly that path prefix.',
    );
    fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 1,
        reportBatchItemFailures: false,
        maxConcurrency: p.maxConcurrency,
      }),
    );
    new events.Rule(this, 'PushTick', {
      description: `rk-sync: push to Strava every ${p.scheduleMinutes} minutes`,
      schedule: events.Schedule.rate(Duration.minutes(p.scheduleMinutes)),
    }).addTarget(
      new eventsTargets.SqsQueue(this.queue, {
        message: events.RuleTargetInput.fromObject({ tick: true }),
        retryAttempts: 2,
      }),
    );
  }
}
