/**
 * Backfill and steady-state scenarios in virtual time: the real scheduler and fetcher, the
 * simulator on a shared manual clock, in-memory adapters, and a model of the deployed
 * timing (scheduler every period like EventBridge, each message delivered at its
 * DelaySeconds like SQS, one consumer).
 */
import type { ManualClock } from '../functions/core/clock.ts';
import { derivedHook } from '../functions/core/export/derive.ts';
import { silentLog } from '../functions/core/ports.ts';
import { handleFetch } from '../functions/core/sync/fetcher.ts';
import { runScheduler } from '../functions/core/sync/scheduler.ts';
import { type CoreHarness, coreHarness } from '../test/helpers/core-harness.ts';

export interface BackfillResult {
  strategy: 'rk-sync' | 'script-2019';
  activities: number;
  stored: number;
  apiCalls: number;
  minimumCalls: number;
  /** The floor: C = minimumCalls calls at B = 98 per window, the first window at once: ⌊(C−1)/B⌋ × 900 s. */
  floorSeconds: number;
  /** Change-log queries made before completion (the floor needs none while a backfill runs). */
  changeLogCalls: number;
  listPages: number;
  virtualSeconds: number;
  idealSeconds: number;
  maxCallsInAnyWindow: number;
  http429: number;
  utilization: number;
  schedulerInvocations: number;
  fetcherInvocations: number;
  s3Puts: number;
  ledgerWrites: number;
  realSeconds: number;
}

const LIMIT = 100;
const WINDOW = 900_000;
/** Calls the budget allows per window (limit − margin). */
const PER_WINDOW = 98;

export function floorSeconds(minimumCalls: number): number {
  return Math.floor(Math.max(0, minimumCalls - 1) / PER_WINDOW) * (WINDOW / 1000);
}

function liveIds(h: CoreHarness, userId: string): Set<string> {
  return new Set(
    h.sim
      .activityIds(userId)
      .filter(
        (id) => (h.sim.document(userId, 'fitnessActivities', id) as { is_live?: boolean }).is_live,
      ),
  );
}

/** Steps the deployed model until `until()` holds; returns the number of steps. */
export async function stepDeployed(
  h: CoreHarness,
  userId: string,
  state: { nextTick: number; schedulerRuns: number; fetches: number },
  until: () => Promise<boolean>,
  maxSteps = 2_000_000,
): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    if (await until()) return;
    const m = h.queue.peek();
    if (m && m.due <= state.nextTick) {
      h.clock.set(m.due);
      h.queue.remove(m);
      state.fetches++;
      try {
        await handleFetch(h.deps, h.cfg, m.body);
      } catch {
        // SQS redelivers after the visibility timeout (6 × 30 s).
        h.queue.retry({ body: m.body, receives: m.receives + 1 }, 180);
      }
    } else {
      h.clock.set(state.nextTick);
      state.schedulerRuns++;
      await runScheduler(h.deps, h.cfg, userId);
      state.nextTick += h.cfg.periodMs;
    }
  }
  throw new Error('bench: step bound reached');
}

export async function backfillRkSync(n: number, seed = 42): Promise<BackfillResult> {
  const real = performance.now();
  const h = await coreHarness({ sim: { activities: n, seed } });
  try {
    const userId = h.sim.users[0]!.userId;
    h.deps.onStored = derivedHook(h.store, silentLog);
    const live = liveIds(h, userId);
    const t0 = h.clock.now();
    const state = { nextTick: t0, schedulerRuns: 0, fetches: 0 };
    let doneAt = t0;
    await stepDeployed(h, userId, state, async () => {
      const c = await h.ledger.counts(userId);
      const done = c.SYNCED >= n - live.size && c.SYNCED + c.PENDING + c.ENQUEUED >= n;
      if (done) doneAt = h.clock.now();
      return done;
    });
    const log = h.sim.callLog.filter((c) => c.userId === userId && c.t <= doneAt);
    // Live activities are re-fetched on purpose; the minimum counts one fetch each.
    const calls = log.length;
    const minimumCalls = n + Math.ceil(n / 100) + 1;
    const pages = log.filter((c) => c.path.startsWith('/fitnessActivities?')).length;
    const seconds = (doneAt - t0) / 1000;
    return {
      strategy: 'rk-sync',
      activities: n,
      stored: (await h.ledger.counts(userId)).SYNCED + live.size,
      apiCalls: calls,
      minimumCalls,
      floorSeconds: floorSeconds(minimumCalls),
      changeLogCalls: log.filter((c) => c.path.startsWith('/changeLog')).length,
      listPages: pages,
      virtualSeconds: seconds,
      idealSeconds: (calls / LIMIT) * (WINDOW / 1000),
      maxCallsInAnyWindow: h.sim.maxCallsInWindow(userId),
      http429: h.sim.http429(),
      utilization: seconds > 0 ? calls / ((LIMIT * seconds) / (WINDOW / 1000)) : 0,
      schedulerInvocations: state.schedulerRuns,
      fetcherInvocations: state.fetches,
      s3Puts: h.store.puts,
      ledgerWrites: h.ledger.writes,
      realSeconds: (performance.now() - real) / 1000,
    };
  } finally {
    await h.close();
  }
}

/**
 * The 2019 script's strategy on the same simulator: list every page back to back (default
 * page size 25), then one activity every 9 s; a non-200 answer is dropped (`return None`),
 * and a failed page ends the listing (the script crashes on `None.get`).
 */
export async function backfillScript2019(n: number, seed = 42): Promise<BackfillResult> {
  const real = performance.now();
  const h = await coreHarness({ sim: { activities: n, seed } });
  try {
    const { userId, accessToken } = h.sim.users[0]!;
    const clock: ManualClock = h.clock;
    const get = async (path: string) => {
      const r = await fetch(`${h.sim.apiBaseUrl}${path}`, {
        headers: { Authorization: `Bearer ${accessToken}` },
      });
      const text = await r.text();
      return r.status === 200 ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    };
    const t0 = clock.now();
    const uris: string[] = [];
    let page = await get('/fitnessActivities');
    const numCalls = Math.floor(Number(page?.size ?? 0) / 25);
    let callCount = 0;
    let crashed = false;
    if (page) uris.push(...(page.items as { uri: string }[]).map((i) => i.uri));
    while (page?.next && callCount < numCalls) {
      page = await get(String(page.next));
      callCount++;
      if (!page) {
        crashed = true; // AttributeError: 'NoneType' object has no attribute 'get'
        break;
      }
      uris.push(...(page.items as { uri: string }[]).map((i) => i.uri));
    }
    let stored = 0;
    let lastStore = clock.now();
    if (!crashed) {
      for (const uri of uris) {
        const doc = await get(uri);
        clock.advance(9_000);
        if (doc) {
          stored++;
          lastStore = clock.now();
        }
      }
    }
    const calls = h.sim.callLog.filter((c) => c.userId === userId).length;
    const seconds = (lastStore - t0) / 1000;
    return {
      strategy: 'script-2019',
      activities: n,
      stored,
      apiCalls: calls,
      minimumCalls: n + Math.ceil(n / 25),
      floorSeconds: floorSeconds(n + Math.ceil(n / 25)),
      changeLogCalls: 0,
      listPages: callCount + 1,
      virtualSeconds: seconds,
      idealSeconds: (calls / LIMIT) * (WINDOW / 1000),
      maxCallsInAnyWindow: h.sim.maxCallsInWindow(userId),
      http429: h.sim.http429(),
      utilization: seconds > 0 ? calls / ((LIMIT * seconds) / (WINDOW / 1000)) : 0,
      schedulerInvocations: 0,
      fetcherInvocations: 0,
      s3Puts: stored,
      ledgerWrites: 0,
      realSeconds: (performance.now() - real) / 1000,
    };
  } finally {
    await h.close();
  }
}

export interface SteadyResult {
  idleRunCalls: number;
  idleRunEnqueued: number;
  idleRunLedgerWrites: number;
  idleRunLedgerReads: number;
  idleRunAccountWrites: number;
  idleRunS3Puts: number;
  idleRunInvocations: number;
  latencySeconds: { samples: number; mean: number; p95: number; max: number };
  http429: number;
}

/** After a backfill: one idle scheduled run, then new activities appearing at random times. */
export async function steadyState(samples: number, seed = 5): Promise<SteadyResult> {
  const h = await coreHarness({ sim: { activities: 60, seed } });
  try {
    const userId = h.sim.users[0]!.userId;
    h.deps.onStored = derivedHook(h.store, silentLog);
    const state = { nextTick: h.clock.now(), schedulerRuns: 0, fetches: 0 };
    const live = liveIds(h, userId);
    await stepDeployed(h, userId, state, async () => {
      const c = await h.ledger.counts(userId);
      return c.SYNCED >= 60 - live.size && c.ENQUEUED === 0 && h.queue.size === 0;
    });
    // Idle run: nothing changed upstream.
    h.clock.set(state.nextTick);
    state.nextTick += h.cfg.periodMs;
    const calls0 = h.sim.callLog.length;
    const w0 = h.ledger.writes;
    const r0 = h.ledger.reads;
    const a0 = h.accounts.writes;
    const p0 = h.store.puts;
    const run = await runScheduler(h.deps, h.cfg, userId);
    const idle = {
      idleRunCalls: h.sim.callLog.length - calls0,
      idleRunEnqueued: run.enqueued,
      idleRunLedgerWrites: h.ledger.writes - w0,
      idleRunLedgerReads: h.ledger.reads - r0,
      idleRunAccountWrites: h.accounts.writes - a0,
      idleRunS3Puts: h.store.puts - p0,
      idleRunInvocations: 1,
    };
    // Latency: a new activity appears at a random point of the period.
    let x = seed;
    const rnd = () => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x / 2 ** 31;
    };
    const lat: number[] = [];
    for (let i = 0; i < samples; i++) {
      h.clock.set(state.nextTick - h.cfg.periodMs + Math.floor(rnd() * h.cfg.periodMs));
      const addedAt = h.clock.now();
      const id = h.sim.mutate.addActivity(userId);
      await stepDeployed(
        h,
        userId,
        state,
        async () => (await h.ledger.get(userId, 'fitnessActivities', id))?.status === 'SYNCED',
      );
      lat.push((h.clock.now() - addedAt) / 1000);
    }
    lat.sort((a, b) => a - b);
    return {
      ...idle,
      latencySeconds: {
        samples: lat.length,
        mean: lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length),
        p95: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.95))] ?? 0,
        max: lat.at(-1) ?? 0,
      },
      http429: h.sim.http429(),
    };
  } finally {
    await h.close();
  }
}
