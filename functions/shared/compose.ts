/**
 * Composition of the sync functions (scheduler, fetcher): a parsed environment and a Platform
 * become the core's ports (DynamoDB, S3, SQS, SSM adapters) and use-case dependencies. The
 * OAuth and import functions compose their own (smaller) ports in functions/shared/app/.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoAccountStore, DynamoLedger } from '../adapters/aws/dynamo.ts';
import { S3ObjectStore } from '../adapters/aws/s3.ts';
import { CachedTokenStore, SqsWorkQueue, SsmTokenStore } from '../adapters/aws/sqs-ssm.ts';
import { derivedHook } from '../core/export/derive.ts';
import { fetchMedia } from '../core/healthgraph/media.ts';
import type { ObjectStore, PutResult } from '../core/ports.ts';
import { defaultSyncConfig, type SyncConfig } from '../core/sync/config.ts';
import type { FetcherDeps } from '../core/sync/fetcher.ts';
import { apiFactory, budgetFrom } from './api.ts';
import { coreLog, type Platform } from './platform.ts';

/** The scheduler has no bucket access: storing singleton documents is off (cfg.docs=false). */
const NO_STORE: ObjectStore = {
  put(): Promise<PutResult> {
    return Promise.reject(new Error('this function has no archive bucket access'));
  },
  get: async () => undefined,
  hash: async () => undefined,
  async *list() {},
};

export interface SyncEnv {
  TABLE_NAME: string;
  RATE_LIMIT_CALLS: number;
  RATE_LIMIT_WINDOW_SECONDS: number;
  TOKEN_PARAM_PREFIX: string;
  QUEUE_URL: string;
  API_BASE_URL: string;
  BUCKET_NAME?: string | undefined;
  SCHEDULE_MINUTES?: number | undefined;
}

export function syncDeps(
  env: SyncEnv,
  p: Platform<'ddb' | 's3' | 'sqs' | 'ssm'>,
): { deps: FetcherDeps; cfg: SyncConfig } {
  const budget = budgetFrom(env, p);
  const { ddb, s3, sqs, ssm } = p.clients;
  const store = env.BUCKET_NAME ? new S3ObjectStore(s3, env.BUCKET_NAME) : NO_STORE;
  const log = coreLog(p.logger);
  const deps: FetcherDeps = {
    clock: p.clock,
    budget,
    ledger: new DynamoLedger(ddb, env.TABLE_NAME),
    accounts: new DynamoAccountStore(ddb, env.TABLE_NAME),
    tokens: new CachedTokenStore(new SsmTokenStore(ssm, env.TOKEN_PARAM_PREFIX)),
    store,
    queue: new SqsWorkQueue(sqs, env.QUEUE_URL),
    log,
    api: apiFactory(env.API_BASE_URL, budget, p),
    // GPX, TCX, GeoJSON and the index row beside each raw activity, as in local mode (a
    // rendering problem is logged, never fails the fetch), and the activity's photos under
    // media/{userId}/fitnessActivities/{id}/ (https origins only).
    ...(env.BUCKET_NAME
      ? {
          onStored: derivedHook(store, log),
          media: (url: string) => fetchMedia(url, { ...p.media }),
        }
      : {}),
    metric: (name, value) => p.metrics.addMetric(name, MetricUnit.Count, value),
  };
  const cfg = defaultSyncConfig(budget.config, {
    ...(env.SCHEDULE_MINUTES !== undefined ? { periodMs: env.SCHEDULE_MINUTES * 60_000 } : {}),
    // The scheduler (the only function with SCHEDULE_MINUTES and a bucket) stores profile,
    // settings and records: three calls at link time, then weekly.
    ...(env.SCHEDULE_MINUTES !== undefined && env.BUCKET_NAME ? { docs: true } : {}),
    ...p.syncOverrides,
  });
  return { deps, cfg };
}
