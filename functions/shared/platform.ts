/**
 * What every function gets from its surroundings: AWS SDK clients, a clock, Powertools
 * logger and metrics. Production builds one Platform per cold start (`defaultPlatform`);
 * tests build one with clients pointed at moto and in-process stand-ins for Lambda.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Clock, systemClock } from '../core/clock.ts';
import { HealthGraphError } from '../core/errors.ts';
import type { FetchFn } from '../core/healthgraph/http.ts';
import type { Log } from '../core/ports.ts';
import type { SyncConfig } from '../core/sync/config.ts';
import type { CrashPoint } from '../core/sync/fetcher.ts';

export const SERVICE_NAME = 'rk-sync';
export const METRICS_NAMESPACE = 'RkSync';

export interface AwsClients {
  ddb: DynamoDBDocumentClient;
  s3: S3Client;
  sqs: SQSClient;
  ssm: SSMClient;
}

export interface Platform {
  clients: AwsClients;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** fetch used for Runkeeper (tests may wrap it). */
  fetch?: FetchFn | undefined;
  /** Starts a scheduler run for one user without waiting for it (callback → first sync). */
  invokeScheduler?: ((userId: string) => Promise<void>) | undefined;
  /** Test-only: scaled-down sync settings (e.g. a short lease). */
  syncOverrides?: Partial<SyncConfig> | undefined;
  /** Test-only: crash between the fetcher's steps. */
  crash?: ((p: CrashPoint) => void) | undefined;
}

/** DynamoDB document client that drops undefined attributes (optional ledger fields). */
export function documentClient(ddb: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(ddb, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

/** Clients for the Lambda runtime: region and credentials from the environment; the SDK
 *  honours AWS_ENDPOINT_URL itself, S3_FORCE_PATH_STYLE=true is for emulators. */
export function defaultClients(env: Record<string, string | undefined> = process.env): AwsClients {
  const forcePathStyle = env.S3_FORCE_PATH_STYLE === 'true';
  return {
    ddb: documentClient(new DynamoDBClient({})),
    s3: new S3Client({ forcePathStyle }),
    sqs: new SQSClient({}),
    ssm: new SSMClient({}),
  };
}

export function makeLogger(): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });
}

export function makeMetrics(): Metrics {
  return new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
  });
}

export function defaultPlatform(): Platform {
  return {
    clients: defaultClients(),
    clock: systemClock,
    logger: makeLogger(),
    metrics: makeMetrics(),
  };
}

/** Async (Event) invoke of the scheduler function for one user. */
export function lambdaSchedulerInvoker(
  functionName: string,
  lambda = new LambdaClient({}),
): (userId: string) => Promise<void> {
  return async (userId) => {
    await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify({ userId })),
      }),
    );
  };
}

/** The core's Log port over the Powertools logger. */
export function coreLog(logger: Logger): Log {
  return {
    debug: (msg, extra) => (extra ? logger.debug(msg, extra) : logger.debug(msg)),
    info: (msg, extra) => (extra ? logger.info(msg, extra) : logger.info(msg)),
    warn: (msg, extra) => (extra ? logger.warn(msg, extra) : logger.warn(msg)),
    error: (msg, extra) => (extra ? logger.error(msg, extra) : logger.error(msg)),
  };
}

/**
 * A secret-free description of any error for logs. Health Graph errors are written to be
 * safe; for anything else (AWS SDK validation messages can quote request values) only the
 * error's name and HTTP status are kept.
 */
export function safeError(e: unknown): string {
  if (e instanceof HealthGraphError) return `${e.kind}: ${e.message}`.slice(0, 300);
  const err = e as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  const name = typeof err?.name === 'string' ? err.name : 'Error';
  const status = err?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? `${name} (HTTP ${status})` : name;
}
