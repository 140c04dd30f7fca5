/** The rate-limit budget and the Health Graph client as the Lambda functions build them. */
import { DynamoBudgetStore } from '../adapters/aws/dynamo.ts';
import { budgetKey, SlidingWindowBudget } from '../core/budget.ts';
import { HealthGraphClient, LAMBDA_RETRY } from '../core/healthgraph/client.ts';
import { coreLog, type Platform } from './platform.ts';

/** Runkeeper calls time out well before the shortest function timeout (10 s). */
export const API_TIMEOUT_MS = 8_000;

export function budgetFrom(
  env: { TABLE_NAME: string; RATE_LIMIT_CALLS: number; RATE_LIMIT_WINDOW_SECONDS: number },
  p: Platform<'ddb'>,
): SlidingWindowBudget {
  return new SlidingWindowBudget(new DynamoBudgetStore(p.clients.ddb, env.TABLE_NAME), {
    limit: env.RATE_LIMIT_CALLS,
    windowMs: Math.round(env.RATE_LIMIT_WINDOW_SECONDS * 1000),
  });
}

export function apiFactory(
  apiBaseUrl: string,
  budget: SlidingWindowBudget,
  p: Platform<never>,
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
