/**
 * Composition root for the Lambda functions: turns a parsed environment and a Platform into
 * the core's ports (DynamoDB, S3, SQS, SSM adapters) and use-case dependencies.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import {
  DynamoAccountStore,
  DynamoAuthStateStore,
  DynamoBudgetStore,
  DynamoLedger,
} from '../adapters/aws/dynamo.ts';
import { S3ObjectStore } from '../adapters/aws/s3.ts';
import { CachedTokenStore, SqsWorkQueue, SsmTokenStore } from '../adapters/aws/sqs-ssm.ts';
import { budgetKey, SlidingWindowBudget } from '../core/budget.ts';
import { derivedHook } from '../core/export/derive.ts';
import { HealthGraphClient, LAMBDA_RETRY } from '../core/healthgraph/client.ts';
import type { ObjectStore, PutResult } from '../core/ports.ts';
import { defaultSyncConfig, type SyncConfig } from '../core/sync/config.ts';
import type { FetcherDeps } from '../core/sync/fetcher.ts';
import type { LambdaContext } from './http.ts';
import { coreLog, type Platform } from './platform.ts';

/** Runkeeper calls time out well before the shortest function timeout (10 s). */
export const API_TIMEOUT_MS = 8_000;

export function budgetFrom(
  env: { TABLE_NAME: string; RATE_LIMIT_CALLS: number; RATE_LIMIT_WINDOW_SECONDS: number },
  p: Platform,
): SlidingWindowBudget {
  return new SlidingWindowBudget(new DynamoBudgetStore(p.clients.ddb, env.TABLE_NAME), {
    limit: env.RATE_LIMIT_CALLS,
    windowMs: Math.round(env.RATE_LIMIT_WINDOW_SECONDS * 1000),
  });
}

export function apiFactory(
  apiBaseUrl: string,
  budget: SlidingWindowBudget,
  p: Platform,
): (token: string, userId: string) => HealthGraphClient {
  const log = coreLog(p.logger);
  return (token, userId) =>
    new HealthGraphClient(
      { apiBaseUrl, timeoutMs: API_TIMEOUT_MS, ...(p.fetch ? { fetch: p.fetch } : {}) },
      {
        token,
        budget,
        budgetKey: budgetKey(userId),
        clock: p.clock,
        retry: LAMBDA_RETRY,
        log,
      },
    );
}

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

export function syncDeps(env: SyncEnv, p: Platform): { deps: FetcherDeps; cfg: SyncConfig } {
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
    // rendering problem is logged, never fails the fetch). Photos (media/) are not wired:
    // the stack grants no media/ prefix yet.
    ...(env.BUCKET_NAME ? { onStored: derivedHook(store, log) } : {}),
    metric: (name, value) => p.metrics.addMetric(name, MetricUnit.Count, value),
  };
  const cfg = defaultSyncConfig(budget.config, {
    ...(env.SCHEDULE_MINUTES !== undefined ? { periodMs: env.SCHEDULE_MINUTES * 60_000 } : {}),
    ...p.syncOverrides,
  });
  return { deps, cfg };
}

export function linkStores(tableName: string, p: Platform) {
  return {
    states: new DynamoAuthStateStore(p.clients.ddb, tableName),
    accounts: new DynamoAccountStore(p.clients.ddb, tableName),
  };
}

/** Powertools logger context + metrics flushing around a handler (middy). */
export function wrap<E, R>(
  p: Platform,
  fn: (event: E, context: LambdaContext) => Promise<R>,
): (event: E, context: LambdaContext) => Promise<R> {
  const h = middy(fn)
    .use(injectLambdaContext(p.logger, { resetKeys: true }))
    .use(logMetrics(p.metrics, { captureColdStartMetric: true, throwOnEmptyMetrics: false }));
  return h as unknown as (event: E, context: LambdaContext) => Promise<R>;
}
