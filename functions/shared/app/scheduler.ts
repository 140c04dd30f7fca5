/**
 * Scheduled (EventBridge) or `{userId}` (the callback's async invoke): one scheduler run per
 * ACTIVE linked account: change detection, backfill paging, paced enqueueing; then, at most
 * hourly and only after stored changes, the account's combined index (core/sync/index-refresh.ts).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod/mini';
import { refreshIndex } from '../../core/sync/index-refresh.ts';
import { type RunSummary, runScheduler } from '../../core/sync/scheduler.ts';
import { syncDeps } from '../compose.ts';
import type { EnvOf } from '../env.ts';
import { wrap } from '../middleware.ts';
import { type Platform, safeError } from '../platform.ts';

const OneUser = z.object({ userId: z.string().check(z.regex(/^[0-9]{1,20}$/)) });

export function createSchedulerHandler(
  env: EnvOf<'scheduler'>,
  p: Platform<'ddb' | 's3' | 'sqs' | 'ssm'>,
) {
  const { deps, cfg } = syncDeps(env, p);
  return wrap(p, async (event: unknown): Promise<{ runs: RunSummary[] }> => {
    const one = OneUser.safeParse(event);
    const userIds = one.success
      ? [one.data.userId]
      : (await deps.accounts.list()).filter((a) => a.status === 'ACTIVE').map((a) => a.userId);
    const runs: RunSummary[] = [];
    for (const userId of userIds) {
      const s = await runScheduler(deps, cfg, userId);
      runs.push(s);
      p.logger.info('scheduler run', { ...s });
      p.metrics.addMetric('ApiCalls', MetricUnit.Count, s.apiCalls);
      p.metrics.addMetric('Enqueued', MetricUnit.Count, s.enqueued);
      p.metrics.addMetric('Discovered', MetricUnit.Count, s.discovered);
      p.metrics.addMetric('Changed', MetricUnit.Count, s.changed);
      p.metrics.addMetric('Deleted', MetricUnit.Count, s.deleted);
      if (s.outcome === 'error') p.metrics.addMetric('SchedulerErrors', MetricUnit.Count, 1);
      if (env.BUCKET_NAME) {
        try {
          const r = await refreshIndex(deps, userId, s, cfg.indexRebuildMs);
          if (r.outcome === 'built') p.metrics.addMetric('IndexRebuilt', MetricUnit.Count, 1);
        } catch (e) {
          // The per-activity rows are the source; the next due run assembles them again.
          p.logger.warn('index not rebuilt', { userId, error: safeError(e) });
        }
      }
    }
    return { runs };
  });
}
