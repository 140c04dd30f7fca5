import {
  Aws,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  type CfnStage,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { RkSyncConfig } from './config.ts';
import { AppFunction, METRICS_NAMESPACE, SERVICE_NAME } from './constructs/app-function.ts';
import { dataStores, NONCURRENT_VERSION_DAYS } from './constructs/data-stores.ts';
import { dropRedundantRoleDependsOn } from './constructs/depends-on.ts';
import { StravaMirror, stravaSettings } from './constructs/strava.ts';
import { grantConsume, grantKeyVia, grantSend, grantTable } from './grants.ts';

export interface RkSyncStackProps extends StackProps {
  readonly config: RkSyncConfig;
}

/** Function timeouts; the queue's visibility timeout is derived from the fetcher's. */
export const TIMEOUTS = {
  authorize: Duration.seconds(10),
  callback: Duration.seconds(15),
  deauthorize: Duration.seconds(15),
  scheduler: Duration.seconds(120),
  fetcher: Duration.seconds(30),
  importer: Duration.seconds(900),
} as const;

/** AWS: the source queue's visibility timeout should be at least 6 x the consumer's timeout. */
export const VISIBILITY_FACTOR = 6;
export const MAX_RECEIVE_COUNT = 5;
/** ESM MaximumConcurrency: 2 is the minimum Lambda accepts. See the comment at the ESM. */
export const FETCHER_MAX_CONCURRENCY = 2;
export { NONCURRENT_VERSION_DAYS };
/** Prefixes the code writes derived/raw data under (see functions/core/keys.ts). */
export const DATA_PREFIXES = ['raw/', 'gpx/', 'tcx/', 'geojson/', 'index/'] as const;
export const IMPORT_PREFIX = 'imports/';
/** The assembled index (scheduler) and the stored objects its manifest lists. */
export const INDEX_PREFIX = 'index/';
/** The HTML report the scheduler rebuilds with the index (functions/core/report/). */
export const REPORT_PREFIX = 'report/';
export const MANIFEST_PREFIXES = ['raw/', 'gpx/', 'tcx/', 'geojson/'] as const;
/** Singleton documents the scheduler stores (functions/core/keys.ts DOCS). */
export const SINGLETON_DOCS = ['profile', 'settings', 'records'] as const;
/**
 * Per-route throttling (requests per second, burst) on top of the stage default (5/10):
 * /authorize is used by the owner a few times a year, /callback once per link, /deauthorize
 * by Runkeeper's servers. Separate buckets keep one route's flood from starving the others.
 */
export const ROUTE_THROTTLE: Record<string, { rateLimit: number; burstLimit: number }> = {
  '/authorize': { rateLimit: 2, burstLimit: 5 },
  '/callback': { rateLimit: 5, burstLimit: 10 },
  '/deauthorize': { rateLimit: 10, burstLimit: 20 },
};

/** Activity photos: media/{userId}/fitnessActivities/{id}/… (fetcher only; the import has none). */
export const MEDIA_PREFIX = 'media/';

const TABLE_INDEX_REASON =
  'The scheduler queries the byWork GSI of its own table (<table>/index/*); the table has ' +
  'exactly one index.';

export class RkSyncStack extends Stack {
  readonly tokenParamPrefix: string;

  constructor(scope: Construct, id: string, props: RkSyncStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = config.removalPolicy;
    this.tokenParamPrefix = `/rk-sync/${this.stackName}/tokens/`;

    // ---------------------------------------------------------------- key, bucket, table
    // Created, or adopted from an earlier deployment (-c bucketName/tableName/kmsKeyArn).
    const { key, bucket, table, bucketArnForNag, tableArnForNag } = dataStores(this, config);
    // CloudWatch alarms publish to the KMS-encrypted alarm topic: the service needs the key.
    // An adopted key keeps this statement from the stack that created it (a no-op here).
    key?.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToUseKeyForSns',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );

    // ---------------------------------------------------------------- queue
    const queueEncryption: Pick<
      sqs.QueueProps,
      'encryption' | 'encryptionMasterKey' | 'dataKeyReuse'
    > = key
      ? {
          encryption: sqs.QueueEncryption.KMS,
          encryptionMasterKey: key,
          // Fewer KMS calls: SQS reuses a data key for up to 24 h.
          dataKeyReuse: Duration.hours(24),
        }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED };
    // A work queue and its dead-letter queue: TLS-only, 14 days, visibility a multiple of the
    // consumer's timeout, a message parked after MAX_RECEIVE_COUNT receives.
    const queueWithDlq = (name: string, consumerTimeout: Duration) => {
      const dlq = new sqs.Queue(this, `${name}DeadLetterQueue`, {
        ...queueEncryption,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
        removalPolicy,
      });
      const queue = new sqs.Queue(this, `${name}Queue`, {
        ...queueEncryption,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(consumerTimeout.toSeconds() * VISIBILITY_FACTOR),
        retentionPeriod: Duration.days(14),
        deadLetterQueue: { queue: dlq, maxReceiveCount: MAX_RECEIVE_COUNT },
        removalPolicy,
      });
      return { queue, dlq };
    };
    const { queue, dlq } = queueWithDlq('Fetch', TIMEOUTS.fetcher);

    // ---------------------------------------------------------------- alarms
    // aws-managed: the topic stays without SSE. CloudWatch alarms cannot publish to a topic
    // under aws/sns (its key policy cannot grant cloudwatch.amazonaws.com, so every alarm
    // notification would be dropped with KMS AccessDenied); only a customer-managed key works.
    // The topic carries alarm state changes only (no user data, no tokens) and is TLS-only.
    const alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'rk-sync alarms',
      ...(key ? { masterKey: key } : {}),
      enforceSSL: true,
    });
    if (config.alarmEmail !== undefined) {
      alarmTopic.addSubscription(new EmailSubscription(config.alarmEmail));
    }
    const alarmAction = new SnsAction(alarmTopic);

    const dlqAlarm = new cloudwatch.Alarm(this, 'DeadLetterQueueAlarm', {
      alarmDescription:
        'rk-sync: a fetch message reached the dead-letter queue (poison or repeated failure). ' +
        'Inspect it, fix, then re-drive from the DLQ.',
      metric: dlq.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    dlqAlarm.addAlarmAction(alarmAction);

    const revokedAlarm = new cloudwatch.Alarm(this, 'AccountRevokedAlarm', {
      alarmDescription:
        'rk-sync: Runkeeper revoked a linked account (de-authorisation callback or 401). ' +
        'Syncing for it has stopped; re-link via an owner invite if this was not intended.',
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: 'AccountRevoked',
        // Powertools Metrics adds the default `service` dimension (POWERTOOLS_SERVICE_NAME).
        dimensionsMap: { service: SERVICE_NAME },
        statistic: cloudwatch.Stats.SUM,
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    revokedAlarm.addAlarmAction(alarmAction);

    // ---------------------------------------------------------------- API (stage first: URLs)
    // HTTP API rather than REST API: cheaper, and its access logging needs no account-wide
    // API Gateway CloudWatch role (a REST API would add an AWS::ApiGateway::Account resource and
    // a managed-policy role, i.e. more IAM4 noise). Routes are added once the functions exist.
    const api = new HttpApi(this, 'HttpApi', {
      description: 'rk-sync OAuth endpoints (authorize, callback, deauthorize)',
      // No CORS: these endpoints are top-level browser navigations and server-to-server calls.
      createDefaultStage: false,
    });
    const apiAccessLogs = new LogGroup(this, 'ApiAccessLogs', {
      retention: RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const stage = new HttpStage(this, 'HttpApiStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      // Stranger traffic can never exhaust anything: the endpoints do a handful of writes each.
      throttle: { burstLimit: 10, rateLimit: 5 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(apiAccessLogs),
        // routeKey, not path/querystring: /callback?code=…&state=… must never reach the logs.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    const baseUrl = stage.url; // ends with '/'
    const callbackUrl = `${baseUrl}callback`;

    // ---------------------------------------------------------------- functions
    const budgetEnv = {
      RATE_LIMIT_CALLS: String(config.rateLimitCalls),
      RATE_LIMIT_WINDOW_SECONDS: String(config.rateLimitWindowSeconds),
    };
    const tokenParamArn = this.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: `${this.tokenParamPrefix.replace(/^\//, '')}*`,
    });
    const clientSecretArn = this.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: config.clientSecretParameter.replace(/^\//, ''),
    });
    const tokenParamFinding = `Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter${this.tokenParamPrefix}*`;
    const tokenParamReason =
      `One SecureString per linked account lives under ${this.tokenParamPrefix}; the account id ` +
      'is only known at runtime, so the grant covers exactly that path prefix.';
    const tableIndexFinding = `Resource::${tableArnForNag}/index/*`;
    const bucketArnToken = bucketArnForNag;

    const authorize = new AppFunction(this, 'AuthorizeFunction', {
      handlerName: 'authorize',
      description: 'GET /authorize: owner-only start of the Runkeeper OAuth flow',
      timeout: TIMEOUTS.authorize,
      logLevel: config.logLevel,
      environment: {
        TABLE_NAME: table.tableName,
        CLIENT_ID: config.clientId,
        AUTH_BASE_URL: config.authBaseUrl,
        REDIRECT_URI: callbackUrl,
      },
    });
    // Per-function table actions and key use through DynamoDB only (infra/grants.ts).
    grantTable(authorize, table, key, 'authorize');

    const scheduler = new AppFunction(this, 'SchedulerFunction', {
      handlerName: 'scheduler',
      description: 'Every few minutes: detect changes per linked account and enqueue fetches',
      timeout: TIMEOUTS.scheduler,
      logLevel: config.logLevel,
      // The next tick (or the callback's kick-off) is the retry; Lambda retries would only
      // spend call budget twice on the same window.
      retryAttempts: 0,
      environment: {
        TABLE_NAME: table.tableName,
        QUEUE_URL: queue.queueUrl,
        TOKEN_PARAM_PREFIX: this.tokenParamPrefix,
        API_BASE_URL: config.apiBaseUrl,
        SCHEDULE_MINUTES: String(config.scheduleMinutes),
        // The combined index (activities.csv/.ndjson, manifest.json), rebuilt at most hourly.
        BUCKET_NAME: bucket.bucketName,
        ...budgetEnv,
      },
    });
    grantTable(scheduler, table, key, 'scheduler');
    grantSend(scheduler, queue, key);
    // Reads the per-activity rows and writes the assembled files under index/ and the HTML
    // report under report/; reads (HEAD) raw and derived objects for the manifest's hashes and
    // sizes, and raw documents for the report. No delete, no media/.
    grantObjects(
      scheduler,
      bucket,
      key,
      [INDEX_PREFIX, REPORT_PREFIX],
      ['s3:GetObject', 's3:PutObject'],
    );
    grantObjects(scheduler, bucket, key, MANIFEST_PREFIXES, ['s3:GetObject']);
    // Profile, settings and records (singleton documents, stored weekly by the scheduler):
    // exactly raw/{userId}/{doc}/latest.json, nothing else under raw/.
    scheduler.grantActions(
      ['s3:PutObject'],
      SINGLETON_DOCS.map((d) => bucket.arnForObjects(`raw/*/${d}/latest.json`)),
    );
    scheduler.acknowledgeWildcards(
      [
        ...[INDEX_PREFIX, REPORT_PREFIX, ...MANIFEST_PREFIXES].map(
          (p) => `Resource::${bucketArnToken}/${p}*`,
        ),
        ...SINGLETON_DOCS.map((d) => `Resource::${bucketArnToken}/raw/*/${d}/latest.json`),
      ],
      'The index, manifest and singleton documents cover one user: keys are {prefix}{userId}/… ' +
        'with the user id only known at runtime; writes are limited to index/, report/ and ' +
        'raw/{userId}/{profile,settings,records}/latest.json, the rest is read-only.',
    );
    scheduler.grantActions(['ssm:GetParameter'], [tokenParamArn]);
    // Token SecureStrings: the stack key (cmk) or aws/ssm, whose key policy already allows it.
    grantKeyVia(scheduler, key, 'ssm', 'ssmRead');
    scheduler.acknowledgeWildcards([tableIndexFinding], TABLE_INDEX_REASON);
    scheduler.acknowledgeWildcards([tokenParamFinding], tokenParamReason);

    const callback = new AppFunction(this, 'CallbackFunction', {
      handlerName: 'callback',
      description: 'GET /callback: verify state, exchange the code, store the token, start sync',
      timeout: TIMEOUTS.callback,
      logLevel: config.logLevel,
      environment: {
        TABLE_NAME: table.tableName,
        CLIENT_ID: config.clientId,
        CLIENT_SECRET_PARAM: config.clientSecretParameter,
        TOKEN_PARAM_PREFIX: this.tokenParamPrefix,
        // Unset with encryption=aws-managed: the token store then writes under aws/ssm.
        ...(key ? { TOKEN_KMS_KEY_ID: key.keyArn } : {}),
        API_BASE_URL: config.apiBaseUrl,
        AUTH_BASE_URL: config.authBaseUrl,
        REDIRECT_URI: callbackUrl,
        SCHEDULER_FUNCTION_NAME: scheduler.functionName,
        ...budgetEnv,
      },
    });
    grantTable(callback, table, key, 'callback');
    // The client secret is a SecureString under the AWS-managed aws/ssm key (the default of
    // `aws ssm put-parameter --type SecureString`): that key's policy already allows decryption
    // through SSM for principals allowed to call ssm:GetParameter, so no kms grant is needed.
    callback.grantActions(['ssm:GetParameter'], [clientSecretArn]);
    callback.grantActions(
      ['ssm:GetParameter', 'ssm:PutParameter', 'ssm:DeleteParameter'],
      [tokenParamArn],
    );
    // Tokens are written under the stack key (cmk); with encryption=aws-managed, PutParameter
    // omits KeyId, SSM uses aws/ssm, and that key's policy covers this role: no kms grant.
    grantKeyVia(callback, key, 'ssm', 'ssmWrite');
    scheduler.grantInvokeLatestVersion(callback);
    callback.acknowledgeWildcards([tokenParamFinding], tokenParamReason);

    const deauthorize = new AppFunction(this, 'DeauthorizeFunction', {
      handlerName: 'deauthorize',
      description: 'POST /deauthorize: Runkeeper de-authorisation callback',
      timeout: TIMEOUTS.deauthorize,
      logLevel: config.logLevel,
      environment: {
        TABLE_NAME: table.tableName,
        TOKEN_PARAM_PREFIX: this.tokenParamPrefix,
        ON_REVOKE: config.onRevoke,
        ...(config.onRevoke === 'delete' ? { BUCKET_NAME: bucket.bucketName } : {}),
      },
    });
    grantTable(deauthorize, table, key, 'deauthorize');
    deauthorize.grantActions(['ssm:GetParameter', 'ssm:DeleteParameter'], [tokenParamArn]);
    grantKeyVia(deauthorize, key, 'ssm', 'ssmRead');
    deauthorize.acknowledgeWildcards([tokenParamFinding], tokenParamReason);
    if (config.onRevoke === 'delete') {
      // X7: delete every version of the revoked user's objects (keys are raw/{userId}/…,
      // gpx/{userId}/…): the user id is only known at runtime, so the grant is per prefix.
      const prefixes = [...DATA_PREFIXES, MEDIA_PREFIX, IMPORT_PREFIX, REPORT_PREFIX];
      deauthorize.grantActions(
        ['s3:DeleteObject', 's3:DeleteObjectVersion'],
        prefixes.map((p) => bucket.arnForObjects(`${p}*`)),
      );
      deauthorize.grantActions(['s3:ListBucket', 's3:ListBucketVersions'], [bucket.bucketArn]);
      deauthorize.acknowledgeWildcards(
        prefixes.map((p) => `Resource::${bucketArnToken}/${p}*`),
        'onRevoke=delete: the revoked user id is only known at runtime; deletion is limited to ' +
          'the data prefixes whose second path segment is that user id.',
      );
    }

    const fetcher = new AppFunction(this, 'FetcherFunction', {
      handlerName: 'fetcher',
      description: 'SQS consumer: fetch one activity within the shared call budget, store it',
      timeout: TIMEOUTS.fetcher,
      logLevel: config.logLevel,
      environment: {
        TABLE_NAME: table.tableName,
        BUCKET_NAME: bucket.bucketName,
        QUEUE_URL: queue.queueUrl,
        TOKEN_PARAM_PREFIX: this.tokenParamPrefix,
        API_BASE_URL: config.apiBaseUrl,
        ...budgetEnv,
      },
    });
    grantTable(fetcher, table, key, 'fetcher');
    fetcher.grantActions(['ssm:GetParameter'], [tokenParamArn]);
    grantKeyVia(fetcher, key, 'ssm', 'ssmRead');
    const fetcherPrefixes = [...DATA_PREFIXES, MEDIA_PREFIX];
    grantObjects(fetcher, bucket, key, fetcherPrefixes, ['s3:GetObject', 's3:PutObject']);
    // Deferred work is acknowledged and re-sent with DelaySeconds (H2), never failed.
    grantSend(fetcher, queue, key);
    // H1: NO reservedConcurrentExecutions here. The ESM polls with ~5 pollers regardless of
    // reserved concurrency, so "reserved concurrency 1" throttles deliveries, which come back
    // after the visibility timeout with a higher receive count and reach the DLQ unprocessed.
    // MaximumConcurrency on the ESM (minimum 2) caps concurrency without throttling. Pacing of
    // Runkeeper calls is done by the shared per-user call budget (DynamoDB) plus DelaySeconds.
    // A plain mapping (not SqsEventSource): its consume grant would add an unconditioned
    // kms:Decrypt on the stack key; grantConsume gives the same access through SQS only.
    fetcher.addEventSourceMapping('FetchQueueSource', {
      eventSourceArn: queue.queueArn,
      batchSize: 1,
      reportBatchItemFailures: true,
      maxConcurrency: FETCHER_MAX_CONCURRENCY,
    });
    grantConsume(fetcher, queue, key);
    fetcher.acknowledgeWildcards([tokenParamFinding], tokenParamReason);
    fetcher.acknowledgeWildcards(
      fetcherPrefixes.map((p) => `Resource::${bucketArnToken}/${p}*`),
      'Object keys are {prefix}{userId}/{feed}/{id}.json with ids known only at runtime; access is ' +
        'limited to the data prefixes the fetcher writes (no imports/, no delete).',
    );

    // Issue #14 §1: the upload event only plans; the import runs as bounded slices, one
    // message each, on its own queue (a slice's message stays until the slice is done).
    const { queue: importQueue, dlq: importDlq } = queueWithDlq('Import', TIMEOUTS.importer);
    new cloudwatch.Alarm(this, 'ImportDeadLetterQueueAlarm', {
      alarmDescription:
        'rk-sync: an import slice reached the dead-letter queue (repeated failure). Inspect ' +
        'it, fix, then re-drive from the DLQ: slices are idempotent.',
      metric: importDlq.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(alarmAction);

    const importer = new AppFunction(this, 'ImporterFunction', {
      handlerName: 'importer',
      description:
        'S3 imports/*.zip: plan the import of a Runkeeper export; import queue: one slice',
      timeout: TIMEOUTS.importer,
      memorySize: 1024,
      logLevel: config.logLevel,
      environment: {
        TABLE_NAME: table.tableName,
        BUCKET_NAME: bucket.bucketName,
        IMPORT_QUEUE_URL: importQueue.queueUrl,
      },
    });
    grantTable(importer, table, key, 'importer');
    grantSend(importer, importQueue, key);
    importer.addEventSourceMapping('ImportQueueSource', {
      eventSourceArn: importQueue.queueArn,
      batchSize: 1,
      maxConcurrency: FETCHER_MAX_CONCURRENCY,
    });
    grantConsume(importer, importQueue, key);
    grantObjects(importer, bucket, key, [IMPORT_PREFIX], ['s3:GetObject']);
    grantObjects(importer, bucket, key, DATA_PREFIXES, ['s3:GetObject', 's3:PutObject']);
    bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new LambdaDestination(importer), {
      prefix: IMPORT_PREFIX,
      suffix: '.zip',
    });
    importer.acknowledgeWildcards(
      [IMPORT_PREFIX, ...DATA_PREFIXES].map((p) => `Resource::${bucketArnToken}/${p}*`),
      'The importer reads uploaded archives under imports/ and writes the archive layout under ' +
        'the data prefixes; object names are only known at runtime.',
    );
    this.acknowledgeBucketNotificationsHandler();

    // ---------------------------------------------------------------- routes + schedule
    // No authoriser on purpose (the OAuth endpoints must be reachable by a browser and by
    // Runkeeper): /authorize is guarded in code (an owner-minted one-time invite, the first
    // link too), /callback by a single-use cookie-bound state, /deauthorize by constant-time
    // token-hash matching.
    const routes: [string, HttpMethod, AppFunction][] = [
      ['/authorize', HttpMethod.GET, authorize],
      ['/callback', HttpMethod.GET, callback],
      ['/deauthorize', HttpMethod.POST, deauthorize],
    ];
    const routeSettings: Record<
      string,
      { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }
    > = {};
    for (const [routePath, method, fn] of routes) {
      const [route] = api.addRoutes({
        path: routePath,
        methods: [method],
        integration: new HttpLambdaIntegration(`${fn.node.id}Integration`, fn),
      });
      if (route === undefined) throw new Error(`route ${routePath} was not created`);
      // Each route its own throttle bucket (X18): a flood of /authorize cannot starve the
      // owner's /callback or Runkeeper's /deauthorize (which Runkeeper does not retry).
      const limit = ROUTE_THROTTLE[routePath];
      if (limit) {
        routeSettings[`${method} ${routePath}`] = {
          ThrottlingRateLimit: limit.rateLimit,
          ThrottlingBurstLimit: limit.burstLimit,
        };
        stage.node.addDependency(route);
      }
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'Public OAuth endpoint by design: /authorize is guarded in code by an owner-minted ' +
          'one-time invite (the first link too), /callback by a single-use cookie-bound state, ' +
          '/deauthorize by constant-time token-hash matching.',
      });
    }

    (stage.node.defaultChild as CfnStage).routeSettings = routeSettings;

    const tick = new events.Rule(this, 'SchedulerTick', {
      description: `rk-sync: run the scheduler every ${config.scheduleMinutes} minutes`,
      schedule: events.Schedule.rate(Duration.minutes(config.scheduleMinutes)),
    });
    tick.addTarget(new eventsTargets.LambdaFunction(scheduler, { retryAttempts: 0 }));

    // Opt-in Strava mirror (-c strava=true): its own queue, DLQ, alarm, pusher and tick.
    const strava = stravaSettings(this);
    const mirror = strava
      ? new StravaMirror(this, 'Strava', {
          ...{ settings: strava, table, bucket, key, queueEncryption, removalPolicy, alarmAction },
          ...{ logLevel: config.logLevel, scheduleMinutes: config.scheduleMinutes },
          ...{ maxReceiveCount: MAX_RECEIVE_COUNT, visibilityFactor: VISIBILITY_FACTOR },
          ...{ maxConcurrency: FETCHER_MAX_CONCURRENCY, tableIndexFinding },
          tableIndexReason: TABLE_INDEX_REASON,
        })
      : undefined;

    // ---------------------------------------------------------------- outputs
    const outputs: Record<string, [string, string]> = {
      AuthorizeUrl: [`${baseUrl}authorize`, 'Open once to link your Runkeeper account'],
      CallbackUrl: [callbackUrl, "Register as the Runkeeper app's redirect URL"],
      DeauthorizeUrl: [
        `${baseUrl}deauthorize`,
        "Register as the Runkeeper app's de-authorization callback URL",
      ],
      BucketName: [bucket.bucketName, 'Archive bucket (raw/, gpx/, tcx/, geojson/, index/)'],
      ImportPrefix: [`s3://${bucket.bucketName}/${IMPORT_PREFIX}`, 'Upload export ZIPs here'],
      TableName: [table.tableName, 'Ledger table'],
      QueueUrl: [queue.queueUrl, 'Fetch queue'],
      DeadLetterQueueUrl: [dlq.queueUrl, 'Fetch dead-letter queue'],
      ImportDeadLetterQueueUrl: [importDlq.queueUrl, 'Import dead-letter queue'],
      ClientSecretParameter: [config.clientSecretParameter, 'SSM SecureString you create'],
      TokenParameterPrefix: [this.tokenParamPrefix, 'SSM path of stored access tokens'],
      SchedulerFunctionName: [scheduler.functionName, 'Invoke to run a sync now'],
      AlarmTopicArn: [alarmTopic.topicArn, 'SNS topic for alarms'],
      ...(mirror && {
        StravaTokenParameterPrefix: [mirror.tokenParamPrefix, 'SSM path of Strava tokens'],
        StravaPushQueueUrl: [mirror.queue.queueUrl, 'Strava push queue (ticks)'],
      }),
    };
    for (const [name, [value, description]] of Object.entries(outputs)) {
      new CfnOutput(this, name, { value, description });
    }
    dropRedundantRoleDependsOn(this);
  }

  /**
   * bucket.addEventNotification deploys CDK's singleton BucketNotificationsHandler (a custom
   * resource that calls PutBucketNotificationConfiguration). Its role and policy are CDK's.
   */
  private acknowledgeBucketNotificationsHandler(): void {
    const handler = this.node.children.find((c) =>
      c.node.id.startsWith('BucketNotificationsHandler'),
    );
    if (handler === undefined) throw new Error('BucketNotificationsHandler not found');
    Validations.of(handler).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's own BucketNotificationsHandler custom resource (configures the imports/*.zip " +
        'notification at deploy time); CDK creates its role with the basic execution policy.',
    });
  }
}

/**
 * S3 object access on exact prefixes plus the key operations SSE-KMS (bucket key) needs on the
 * stack key; under aws/s3 (no `key`) the AWS-managed key policy already covers the role.
 */
function grantObjects(
  fn: AppFunction,
  bucket: s3.IBucket,
  key: kms.IKey | undefined,
  prefixes: readonly string[],
  actions: string[],
): void {
  fn.grantActions(
    actions,
    prefixes.map((p) => bucket.arnForObjects(`${p}*`)),
  );
  // ListBucket lets GetObject/HeadObject answer 404 (not 403) for a missing key.
  fn.grantActions(['s3:ListBucket'], [bucket.bucketArn]);
  grantKeyVia(fn, key, 's3', actions.includes('s3:PutObject') ? 's3Write' : 's3Read');
}
