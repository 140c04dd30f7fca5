/**
 * When a scheduler run may call and which budget slots it plans messages for (issue 14 §3:
 * free slots at once, later ones as the window frees them, one call kept for the next run).
 */
import type { Account, SyncDeps } from '../ports.ts';
import type { SyncConfig } from './config.ts';

type SlotDeps = Pick<SyncDeps, 'budget' | 'clock'>;

/**
 * Budget slots this run may plan for: after messages still in flight, within one period. One
 * call stays free for the next run's first query (without it a run could find the window full
 * and skip detection or its page: a Lambda never sleeps to wait for a slot).
 */
export async function plannedSlots(
  deps: SlotDeps,
  cfg: SyncConfig,
  account: Account,
  bkey: string,
): Promise<number[]> {
  const now = deps.clock.now();
  const lastDue = Number(account.lastRun?.lastDueAt ?? 0);
  const start = Math.max(now, lastDue > now ? lastDue + cfg.spacingMs : now);
  const nextRun = now + cfg.periodMs;
  const horizon = now + Math.min(cfg.periodMs, 900_000);
  // With comment threads each fitness message spends two calls: plan one message per pair of slots.
  const per = cfg.comments ? 2 : 1;
  const all = (
    await deps.budget.forecast(bkey, start, cfg.maxEnqueuePerRun * per, cfg.spacingMs)
  ).filter((t) => t < horizon);
  const slots = all.filter((_, i) => i % per === 0 && i + per - 1 < all.length);
  if (!cfg.reserveForNextRun) return slots;
  const atNextRun = await deps.budget.inspect(bkey, nextRun);
  const reserve = 1;
  const room = Math.floor(Math.max(0, atNextRun.capacity - reserve - atNextRun.used) / per);
  return slots.slice(0, Math.max(0, Math.min(slots.length, room)));
}
