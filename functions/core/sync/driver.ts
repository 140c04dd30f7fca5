/**
 * The local driver: the same scheduler and fetcher as the Lambdas, on one machine.
 * The queue is in-process (messages die with the process), so a scheduler run happens
 * whenever the queue is empty and every ENQUEUED item found then is a lost message
 * (lease 0). A crash or kill at any point is healed by the next `sync`.
 */
import { budgetKey } from '../budget.ts';
import { describeError, isHealthGraphError } from '../errors.ts';
import type { FetchMessage, WorkQueue } from '../ports.ts';
import { storageFault } from '../storage-fault.ts';
import type { SyncConfig } from './config.ts';
import { emptyOutcomes, type FetcherDeps, type FetchOutcome, handleFetch } from './fetcher.ts';
import { type RunSummary, runScheduler } from './scheduler.ts';

export interface LocalQueue extends WorkQueue {
  peek(): { body: FetchMessage; due: number; receives: number } | undefined;
  remove(m: { body: FetchMessage; due: number; receives: number }): void;
  /** Put a received message back, keeping its receive count (like an SQS redelivery). */
  retry(m: { body: FetchMessage; receives: number }, delaySeconds: number): void;
  readonly size: number;
}

export interface Progress {
  outcomes: Record<FetchOutcome | 'error', number>;
  runs: number;
  queued: number;
  lastRun?: RunSummary | undefined;
}

export interface DriveOptions {
  signal?: AbortSignal | undefined;
  onProgress?: (p: Progress) => void;
  /** Deliveries of one message before it is given up for this sync (stays PENDING). */
  maxReceives?: number;
  /** Scheduler runs that end in a transient error before giving up. */
  maxErrorRuns?: number;
  /** The same when the API does not answer at all (default 2: say so within seconds). */
  maxUnreachableRuns?: number;
  random?: () => number;
}

export interface DriveResult extends Progress {
  stopped: 'done' | 'aborted' | 'revoked' | 'error';
  error?: string | undefined;
}

export async function driveLocalSync(
  deps: FetcherDeps,
  queue: LocalQueue,
  cfg: SyncConfig,
  userIds: string[],
  opts: DriveOptions = {},
): Promise<DriveResult> {
  // The next run starts when the queue drains, so no reserve is needed (and no lease).
  const local: SyncConfig = { ...cfg, leaseMs: 0, reserveForNextRun: false };
  const maxReceives = opts.maxReceives ?? 5;
  const random = opts.random ?? Math.random;
  const p: Progress = {
    outcomes: emptyOutcomes(),
    runs: 0,
    queued: 0,
  };
  let errorRuns = 0;
  const lastDetection = new Map<string, number>();
  const aborted = () => opts.signal?.aborted === true;
  const report = () => {
    p.queued = queue.size;
    opts.onProgress?.(p);
  };

  for (let guard = 0; guard < 10_000_000; guard++) {
    if (aborted()) return { ...p, stopped: 'aborted' };
    const next = queue.peek();
    if (next) {
      const wait = next.due - deps.clock.now();
      if (wait > 0) {
        try {
          await deps.clock.sleep(wait, opts.signal);
        } catch {
          return { ...p, stopped: 'aborted' };
        }
        continue;
      }
      queue.remove(next);
      next.receives++;
      try {
        const outcome = await handleFetch(deps, local, next.body);
        p.outcomes[outcome]++;
      } catch (e) {
        if (aborted()) return { ...p, stopped: 'aborted' };
        // Disk full or read-only: retrying cannot help; the caller stops with what to do.
        if (storageFault(e)) throw e;
        p.outcomes.error++;
        if (next.receives < maxReceives && (!isHealthGraphError(e) || e.retryable)) {
          // Back off with full jitter, like SQS redelivery after the visibility timeout.
          const delay = Math.ceil(random() * Math.min(300, 5 * 2 ** next.receives));
          queue.retry(next, delay);
        } else {
          deps.log.warn('giving up on an item for this sync; the next sync retries it', {
            feed: next.body.feed,
            id: next.body.id,
            error: describeError(e),
          });
        }
      }
      report();
      continue;
    }

    // Queue empty: plan the next batch for every account.
    let enqueued = 0;
    let pendingWork = false;
    let transient = false;
    let revoked = 0;
    let waitUntil = 0;
    for (const userId of userIds) {
      // Change detection once per period (and at the start); the runs in between only plan.
      const startedAt = deps.clock.now();
      const detect =
        startedAt - (lastDetection.get(userId) ?? Number.NEGATIVE_INFINITY) >= cfg.periodMs;
      let run: RunSummary;
      try {
        run = await runScheduler(
          deps,
          detect ? local : { ...local, skipChangeDetection: true },
          userId,
        );
      } catch (e) {
        if (aborted()) return { ...p, stopped: 'aborted' };
        throw e;
      }
      if (detect && run.outcome === 'ok') lastDetection.set(userId, startedAt);
      p.runs++;
      p.lastRun = run;
      enqueued += run.enqueued;
      if (run.outcome === 'revoked' || run.outcome === 'skipped') revoked++;
      if (run.outcome === 'error') transient = true;
      const waiting =
        run.enqueued === 0 &&
        run.outcome !== 'revoked' &&
        run.outcome !== 'skipped' &&
        (!run.backfillDone || (await deps.ledger.pick(userId, deps.clock.now(), 1, 0)).length > 0);
      if (waiting) pendingWork = true;
      if (waiting || run.outcome === 'budget' || run.outcome === 'rate-limited') {
        const v = await deps.budget.inspect(budgetKey(userId), deps.clock.now());
        waitUntil = Math.max(waitUntil, v.nextSlotAt, deps.clock.now() + 1000);
      }
    }
    report();
    if (revoked === userIds.length) return { ...p, stopped: 'revoked' };
    if (enqueued > 0) {
      errorRuns = 0;
      continue;
    }
    if (transient) {
      errorRuns++;
      const limit = p.lastRun?.unreachable
        ? (opts.maxUnreachableRuns ?? 2)
        : (opts.maxErrorRuns ?? 5);
      if (errorRuns >= limit) return { ...p, stopped: 'error', error: p.lastRun?.error };
      try {
        await deps.clock.sleep(
          Math.ceil(random() * Math.min(60_000, 2_000 * 2 ** errorRuns)),
          opts.signal,
        );
      } catch {
        return { ...p, stopped: 'aborted' };
      }
      continue;
    }
    if (pendingWork && waitUntil > deps.clock.now()) {
      try {
        await deps.clock.sleep(waitUntil - deps.clock.now(), opts.signal);
      } catch {
        return { ...p, stopped: 'aborted' };
      }
      continue;
    }
    // Nothing enqueued, backfill complete: done for now (live or backed-off items wait for the next sync).
    return { ...p, stopped: 'done' };
  }
  return { ...p, stopped: 'error', error: 'driver loop bound reached' };
}
