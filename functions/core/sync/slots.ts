/**
 * When a scheduler run may call and which budget slots it plans messages for (issue 14 §3:
 * free slots at once, later ones as the window frees them, no reserve while a backfill lists).
 */
import type { Account, SyncDeps } from '../ports.ts';
import type { SyncConfig } from './config.ts';

type SlotDeps = Pick<SyncDeps, 'budget' | 'clock'>;

/**
 * When the window is full now but frees within `slotWaitMs`, wait for it (bounded, once per
 * run): a burst made at the previous run frees 1 s (the budget's guard) after this run starts.
 */
export async function waitForSlot(deps: SlotDeps, cfg: SyncConfig, bkey: string): Promise<void> {
  if (cfg.slotWaitMs <= 0) return;
  const v = await deps.budget.inspect(bkey, deps.clock.now());
  const wait = v.nextSlotAt - deps.clock.now();
  if (v.available === 0 && wait > 0 && wait <= cfg.slotWaitMs) await deps.clock.sleep(wait);
}

/**
 * Budget slots this run may plan for: after messages still in flight, within one period. In
 * steady state one call stays free for the next run's change-log query (without it a run could
 * find the window full and skip detection); while a backfill lists, none does: the next run
 * waits for its slot (`slotWaitMs`) and every slot goes to the backfill.
 */
export async function plannedSlots(
  deps: SlotDeps,
  cfg: SyncConfig,
  account: Account,
  bkey: string,
  listing: boolean,
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
  // While a backfill lists, the next run waits for its slot (slotWaitMs) instead of keeping
  // one free: every slot of every window goes to the backfill.
  if (!cfg.reserveForNextRun || (listing && cfg.slotWaitMs > 0)) return slots;
  const atNextRun = await deps.budget.inspect(bkey, nextRun);
  const reserve = 1;
  const room = Math.floor(Math.max(0, atNextRun.capacity - reserve - atNextRun.used) / per);
  return slots.slice(0, Math.max(0, Math.min(slots.length, room)));
}
