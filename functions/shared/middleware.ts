/** Powertools logger context + metrics flushing around a handler (middy). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { LambdaContext } from './http.ts';
import type { Platform } from './platform.ts';

export function wrap<E, R>(
  p: Pick<Platform, 'logger' | 'metrics'>,
  fn: (event: E, context: LambdaContext) => Promise<R>,
): (event: E, context: LambdaContext) => Promise<R> {
  const h = middy(fn)
    .use(injectLambdaContext(p.logger, { resetKeys: true }))
    .use(logMetrics(p.metrics, { captureColdStartMetric: true, throwOnEmptyMetrics: false }));
  return h as unknown as (event: E, context: LambdaContext) => Promise<R>;
}
