/**
 * What every function gets from its surroundings: AWS SDK clients, a clock, Powertools
 * logger and metrics. Production builds one Platform per cold start (`defaultPlatform`) with
 * only the clients that function uses (functions/handlers/*.ts, factories in clients.ts);
 * tests build one with clients pointed at moto and in-process stand-ins for Lambda.
 *
 * Only DynamoDB (used by every function) is imported as a value here: the other SDK
 * clients are types, so a handler's bundle holds just the clients its entry constructs.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Clock, systemClock } from '../core/clock.ts';
import { HealthGraphError } from '../core/errors.ts';
import type { FetchFn } from '../core/healthgraph/http.ts';
import type { MediaConfig } from '../core/healthgraph/media.ts';
import type { Log } from '../core/ports.ts';
import { redactFields, redactSecrets } from '../core/redact.ts';
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

export type ClientName = keyof AwsClients;

/** `C`: the clients this function uses (a Platform with more clients is one with fewer too). */
export interface Platform<C extends ClientName = ClientName> {
  clients: Pick<AwsClients, C>;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** fetch used for Runkeeper (tests may wrap it). */
  fetch?: FetchFn | undefined;
  /** Starts a scheduler run for one user without waiting for it (callback → first sync). */
  invokeScheduler?: ((userId: string) => Promise<void>) | undefined;
  /** Test-only: scaled-down sync settings (e.g. a short lease). */
  syncOverrides?: Partial<SyncConfig> | undefined;
  /** Photo downloads (https origins only unless tests add e.g. the simulator's origin). */
  media?: Pick<MediaConfig, 'extraOrigins'> | undefined;
  /** Test-only: crash between the fetcher's steps. */
  crash?: ((p: CrashPoint) => void) | undefined;
}

/** DynamoDB document client that drops undefined attributes (optional ledger fields). */
export function documentClient(
  ddb: DynamoDBClient = new DynamoDBClient({}),
): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(ddb, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
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

/** The production Platform around the clients a function's entry constructs. */
export function defaultPlatform<C extends ClientName>(clients: Pick<AwsClients, C>): Platform<C> {
  return {
    clients,
    clock: systemClock,
    logger: makeLogger(),
    metrics: makeMetrics(),
  };
}

/** The core's Log port over the Powertools logger. */
export function coreLog(logger: Logger): Log {
  // Extra fields can quote upstream text: anything token-shaped is redacted on the way out.
  return {
    debug: (msg, extra) => (extra ? logger.debug(msg, redactFields(extra)) : logger.debug(msg)),
    info: (msg, extra) => (extra ? logger.info(msg, redactFields(extra)) : logger.info(msg)),
    warn: (msg, extra) => (extra ? logger.warn(msg, redactFields(extra)) : logger.warn(msg)),
    error: (msg, extra) => (extra ? logger.error(msg, redactFields(extra)) : logger.error(msg)),
  };
}

/**
 * A secret-free description of any error for logs. Health Graph errors are written to be
 * safe; for anything else (AWS SDK validation messages can quote request values) only the
 * error's name and HTTP status are kept.
 */
export function safeError(e: unknown): string {
  if (e instanceof HealthGraphError) return redactSecrets(`${e.kind}: ${e.message}`).slice(0, 300);
  const err = e as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  const name = typeof err?.name === 'string' ? redactSecrets(err.name).slice(0, 100) : 'Error';
  const status = err?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? `${name} (HTTP ${status})` : name;
}
