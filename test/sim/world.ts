/**
 * The discrete-event simulation world: the real `runScheduler` (every `periodMs`, like the
 * EventBridge rule) and the real `handleFetch` (through the ESM model) against the simulator
 * over loopback, on one ManualClock, with the in-memory adapters and the SQS model.
 */
import type { BudgetConfig } from '../../functions/core/budget.ts';
import type { RetryPolicy } from '../../functions/core/healthgraph/client.ts';
import type { Log } from '../../functions/core/ports.ts';
import type { SyncConfig } from '../../functions/core/sync/config.ts';
import {
  type CrashPoint,
  emptyOutcomes,
  type FetcherDeps,
  type FetchOutcome,
  handleFetch,
} from '../../functions/core/sync/fetcher.ts';
import { type RunSummary, runScheduler } from '../../functions/core/sync/scheduler.ts';
import type { SimulatorOptions } from '../../simulator/server.ts';
import { type CoreHarness, coreHarness } from '../helpers/core-harness.ts';
import {
  checkInvariants,
  type InvariantInput,
  type InvariantSummary,
} from '../helpers/invariants.ts';
import { EsmModel, type EsmOptions, SqsModel, VirtualRuntime } from '../helpers/sqs-model.ts';

export const VISIBILITY_MS = 180_000; // 6 × the fetcher's 30 s timeout (infra/stack.ts)
export const MAX_RECEIVE_COUNT = 5;

export interface WorldOptions {
  sim?: SimulatorOptions;
  budget?: Partial<BudgetConfig>;
  sync?: Partial<SyncConfig>;
  retry?: RetryPolicy;
  esm?: Partial<EsmOptions>;
  visibilityMs?: number;
  maxReceiveCount?: number;
  /** Decorate the deps the scheduler (or the fetcher) sees: fault wrappers. */
  schedulerDeps?: (d: FetcherDeps) => FetcherDeps;
  fetcherDeps?: (d: FetcherDeps) => FetcherDeps;
  /** Crash the fetcher at a step boundary (throw from the hook). */
  crash?: (m: { id: string }, p: CrashPoint) => void;
  /** Users the scheduler runs for (default: every simulator user). */
  userIds?: string[];
}

export interface World {
  h: CoreHarness;
  rt: VirtualRuntime;
  sqs: SqsModel;
  esm: EsmModel;
  cfg: SyncConfig;
  userIds: string[];
  runs: RunSummary[];
  /** Scheduler invocations that threw (crash injection). */
  crashes: string[];
  outcomes: Record<FetchOutcome | 'error', number>;
  /** Edits made upstream per activity id (INV-DUP's revision bound). */
  edits: Map<string, number>;
  /** Virtual time of the first scheduler run. */
  t0: number;
  /** Activities being recorded when the world started: fetched again once they end. */
  liveAtStart: Set<string>;
  /** Start the scheduler (first run now, then every period) and the ESM pollers. */
  start(): void;
  runFor(ms: number): Promise<void>;
  /** Run until a scheduler round finds everything stored and the queue empty; returns whether it did. */
  runUntilQuiet(maxMs: number): Promise<boolean>;
  check(extra?: Partial<InvariantInput>): Promise<InvariantSummary>;
  close(): Promise<void>;
}

export async function makeWorld(o: WorldOptions = {}): Promise<World> {
  const h = await coreHarness({
    sim: o.sim,
    budget: o.budget,
    // Live activities are stored and retried after a day here, so quiescence is reachable.
    sync: { liveRetryMs: 86_400_000, ...o.sync },
    retry: o.retry,
  });
  const rt = new VirtualRuntime(h.clock);
  const sqs = new SqsModel(h.clock, {
    visibilityTimeoutMs: o.visibilityMs ?? VISIBILITY_MS,
    maxReceiveCount: o.maxReceiveCount ?? MAX_RECEIVE_COUNT,
  });
  h.deps.queue = sqs;
  const cfg = h.cfg;
  const userIds = o.userIds ?? h.sim.users.map((u) => u.userId);
  const runs: RunSummary[] = [];
  const crashes: string[] = [];
  const outcomes: Record<FetchOutcome | 'error', number> = emptyOutcomes();
  // Any scheduler sleep (retry back-off) passes in virtual time, the fetcher running meanwhile.
  const schedBase: FetcherDeps = {
    ...h.deps,
    clock: { now: () => h.clock.now(), sleep: (ms) => rt.sleep(ms, 'scheduler-wait') },
  };
  const schedDeps = o.schedulerDeps ? o.schedulerDeps(schedBase) : schedBase;
  const fetchDeps = o.fetcherDeps ? o.fetcherDeps(h.deps) : h.deps;
  const esm = new EsmModel(
    rt,
    sqs,
    async (m) => {
      try {
        const r = await handleFetch(
          fetchDeps,
          cfg,
          m,
          o.crash ? (p) => o.crash?.(m, p) : undefined,
        );
        outcomes[r]++;
        return r;
      } catch (e) {
        outcomes.error++;
        throw e;
      }
    },
    { mode: 'maximum', pollers: 5, slots: 2, ...o.esm },
  );

  let quiet = false;
  let watching = false;
  const isQuiet = async (round: RunSummary[]): Promise<boolean> => {
    if (sqs.size > 0 || round.length !== userIds.length) return false;
    for (const r of round) {
      if (r.outcome === 'skipped' || r.outcome === 'revoked') continue;
      if (r.outcome !== 'ok' || r.enqueued > 0 || !r.backfillDone) return false;
      for (const it of await h.ledger.list(r.userId)) {
        if (it.status === 'SYNCED' || it.status === 'DELETED' || it.status === 'FAILED') continue;
        if (it.status === 'PENDING' && /is_live/.test(it.lastError ?? '')) continue;
        return false;
      }
    }
    return true;
  };

  const liveAtStart = new Set(
    h.sim.users.flatMap((u) =>
      h.sim
        .activityIds(u.userId)
        .filter(
          (id) =>
            (h.sim.document(u.userId, 'fitnessActivities', id) as { is_live?: unknown })
              ?.is_live === true,
        ),
    ),
  );
  const world: World = {
    h,
    rt,
    sqs,
    esm,
    cfg,
    userIds,
    runs,
    crashes,
    outcomes,
    edits: new Map(),
    t0: h.clock.now(),
    liveAtStart,
    start() {
      world.t0 = h.clock.now();
      const t0 = world.t0;
      rt.spawn(async () => {
        for (let k = 0; k < 1_000_000 && !rt.stopped; k++) {
          const round: RunSummary[] = [];
          for (const u of userIds) {
            try {
              round.push(await runScheduler(schedDeps, cfg, u));
            } catch (e) {
              // A crashed invocation: EventBridge simply runs the scheduler again next period.
              crashes.push(String(e));
            }
          }
          runs.push(...round);
          if (watching && (await isQuiet(round))) quiet = true;
          await rt.sleepUntil(t0 + (k + 1) * cfg.periodMs);
        }
      });
      esm.start();
    },
    async runFor(ms) {
      await rt.run(h.clock.now() + ms);
    },
    async runUntilQuiet(maxMs) {
      quiet = false;
      watching = true;
      await rt.run(h.clock.now() + maxMs, () => quiet);
      watching = false;
      return quiet;
    },
    check(extra = {}) {
      return checkInvariants({
        sim: h.sim,
        ledger: h.ledger,
        store: h.store,
        dlq: sqs.dlq,
        logs: h.logs,
        userIds,
        limit: 100,
        accounts: h.accounts,
        // A recording that ends upstream is one more revision of its document.
        revisions: (_u, id) => 1 + (world.edits.get(id) ?? 0) + (liveAtStart.has(id) ? 1 : 0),
        ...extra,
      });
    },
    async close() {
      esm.stop();
      await rt.shutdown();
      await h.close();
    },
  };
  return world;
}

/** A log that also keeps the lines (for INV-SECRET over wrapped deps). */
export function capturingLog(lines: string[]): Log {
  const f = (lvl: string) => (m: string, e?: Record<string, unknown>) =>
    lines.push(`${lvl} ${m} ${JSON.stringify(e ?? {})}`);
  return { debug: f('debug'), info: f('info'), warn: f('warn'), error: f('error') };
}
