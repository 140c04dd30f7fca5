/**
 * Discrete-event simulation (catalogue tier S): the real scheduler every period (EventBridge)
 * and the real fetcher behind the ESM model, against the simulator over loopback, on one
 * ManualClock. Virtual hours take real seconds. Numbers are printed for docs/RELIABILITY.md.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FetcherDeps } from '../../functions/core/sync/fetcher.ts';
import { runScheduler } from '../../functions/core/sync/scheduler.ts';
import { makeWorld, type World } from './world.ts';

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const HOUR = 3_600_000;
// 5,000 takes 10–20 s real on a loaded 2-core machine: opt in with RK_SIM_FULL=1 (or RK_SIM_L1_N=N).
const L1_N = Number(process.env.RK_SIM_L1_N ?? (process.env.RK_SIM_FULL ? 5000 : 1000));

/** Per-activity fetch calls (GET /fitnessActivities/{id}) in the simulator's log. */
function fetchCounts(world: World, userId: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of world.h.sim.callLog) {
    const r = c.userId === userId ? /^\/fitnessActivities\/(\d+)$/.exec(c.path) : null;
    if (r) m.set(r[1]!, (m.get(r[1]!) ?? 0) + 1);
  }
  return m;
}

describe('load (DES)', () => {
  it(`L1: one user, ${L1_N} activities from empty: all stored, zero 429s, ≤ 100 calls per 900 s, within 10 % of the ideal time, DLQ empty (H2)`, async () => {
    const real0 = Date.now();
    w = await makeWorld({ sim: { activities: L1_N, seed: 11 } });
    const userId = w.userIds[0]!;
    w.start();
    expect(await w.runUntilQuiet(60 * 86_400_000)).toBe(true);
    const s = await w.check({ scanObjectsForSecrets: L1_N <= 1000 });
    // Completion: the last activity stored; calls: every call of the user up to then.
    const done = Math.max(...(await w.h.ledger.list(userId)).map((it) => it.syncedAt ?? 0));
    const calls = w.h.sim.callLog.filter((c) => c.userId === userId && c.t <= done).length;
    const elapsed = done - w.t0;
    // The ideal comes from the fewest calls the job needs (every item, every page, one change
    // log), not from the calls made: wasted calls must make this test fail.
    const minimum = L1_N + Math.ceil(L1_N / 100) + 1;
    const ideal = (minimum / (100 - 2)) * 900_000;
    console.log(
      `L1 N=${L1_N}: calls=${calls} (min ${L1_N + Math.ceil(L1_N / 100) + 1}) virtual=${(elapsed / HOUR).toFixed(2)} h ideal=${(ideal / HOUR).toFixed(2)} h ratio=${(elapsed / ideal).toFixed(3)} maxWindow=${s.maxCallsInWindow} 429=${s.http429} dlq=${s.dlq} maxDelay=${w.sqs.stats.maxDelaySeconds}s maxReceive=${w.sqs.stats.maxReceiveCount} real=${Date.now() - real0} ms`,
    );
    expect(s.http429).toBe(0);
    expect(s.maxCallsInWindow).toBeLessThanOrEqual(100);
    expect(w.sqs.dlq).toHaveLength(0);
    expect(w.sqs.stats.maxReceiveCount).toBe(1);
    expect(calls).toBeLessThanOrEqual(Math.ceil(minimum * 1.05));
    expect(elapsed).toBeLessThan(ideal * 1.1);
  }, 60_000);

  it('L3: 50 users × 20 activities: per-user budgets independent, every window ≤ 100 per user, all stored', async () => {
    w = await makeWorld({ sim: { users: 50, activities: 20, seed: 3 } });
    w.start();
    expect(await w.runUntilQuiet(2 * 86_400_000)).toBe(true);
    const s = await w.check();
    expect(s.users).toBe(50);
    expect(s.http429).toBe(0);
    // Independent budgets: every user is served in the first window (nobody waits for others).
    for (const u of w.userIds) {
      const first = w.h.sim.callLog.filter((c) => c.userId === u && c.t < w!.t0 + 900_000);
      expect(first.length).toBeGreaterThanOrEqual(20);
    }
    const lastStored = Math.max(
      ...(await Promise.all(w.userIds.map((u) => w!.h.ledger.list(u))))
        .flat()
        .map((it) => it.syncedAt ?? 0),
    );
    // 50 × 22 calls through 2 slots of 1 s each: bounded by the consumer's throughput.
    console.log(
      `L3 50×20: all stored after ${((lastStored - w.t0) / 60_000).toFixed(1)} min virtual, max per-user window ${s.maxCallsInWindow}`,
    );
    expect(lastStored - w.t0).toBeLessThan(900_000);
  }, 30_000);

  it('L4: fairness: user A backfilling 2,000 does not delay user B: B’s new activity is stored within one period + 15 min', async () => {
    w = await makeWorld({ sim: { users: 2, activities: 2000, seed: 5 } });
    const [a, b] = w.userIds as [string, string];
    // B is an idle account with 5 activities (the rest removed before linking).
    for (const id of w.h.sim.activityIds(b).slice(5)) w.h.sim.mutate.deleteActivity(b, id);
    w.h.clock.advance(HOUR);
    w.start();
    await w.runFor(2 * HOUR + 7 * 60_000);
    expect((await w.h.ledger.counts(b)).SYNCED).toBeGreaterThanOrEqual(4);
    const aSynced = (await w.h.ledger.counts(a)).SYNCED;
    expect(aSynced).toBeLessThan(2000); // A is still backfilling
    const added = w.h.sim.mutate.addActivity(b);
    const t = w.h.clock.now();
    await w.runFor(w.cfg.periodMs + 900_000);
    const item = await w.h.ledger.get(b, 'fitnessActivities', added);
    expect(item?.status).toBe('SYNCED');
    const latency = (item?.syncedAt ?? 0) - t;
    console.log(
      `L4: B's new activity stored ${(latency / 60_000).toFixed(1)} min after it appeared (A at ${aSynced}/2000)`,
    );
    expect(latency).toBeLessThanOrEqual(w.cfg.periodMs + 900_000);
    expect(w.h.sim.maxCallsInWindow(a)).toBeLessThanOrEqual(100);
    expect(w.h.sim.maxCallsInWindow(b)).toBeLessThanOrEqual(100);
    expect(w.h.sim.http429()).toBe(0);
  }, 30_000);

  it('L6: a deep queue (600 messages) with DelaySeconds pacing: no delay over 900 s, deferrals re-sent with fresh receive counts, every message processed', async () => {
    w = await makeWorld({ sim: { activities: 700, seed: 9 }, sync: { maxEnqueuePerRun: 2000 } });
    const userId = w.userIds[0]!;
    // Fill the queue deep: one scheduler run that may enqueue far beyond one window.
    const deep: FetcherDeps = { ...w.h.deps };
    const big = { ...w.cfg, periodMs: 24 * HOUR };
    for (let i = 0; i < 30; i++) await runScheduler(deep, big, userId);
    const depth = w.sqs.size;
    w.start();
    expect(await w.runUntilQuiet(30 * 86_400_000)).toBe(true);
    await w.check({ scanObjectsForSecrets: false });
    console.log(
      `L6: queue depth ${depth}, max DelaySeconds ${w.sqs.stats.maxDelaySeconds}, deferred ${w.outcomes.deferred}, max receive count ${w.sqs.stats.maxReceiveCount}, longest wait ${(w.sqs.stats.maxWaitMs / 60_000).toFixed(1)} min`,
    );
    expect(depth).toBeGreaterThanOrEqual(550);
    expect(w.sqs.stats.maxDelaySeconds).toBeLessThanOrEqual(900);
    // Messages beyond the window are deferred by acknowledging and re-sending (H2): receive
    // counts never climb, nothing reaches the DLQ, and each activity is fetched once.
    expect(w.outcomes.deferred).toBeGreaterThan(0);
    expect(w.sqs.stats.maxReceiveCount).toBe(1);
    expect(w.sqs.dlq).toHaveLength(0);
    const gets = fetchCounts(w, userId);
    for (const [id, n] of gets) if (!w.liveAtStart.has(id)) expect(n).toBe(1);
    expect(w.h.sim.maxCallsInWindow(userId)).toBeLessThanOrEqual(100);
  }, 30_000);
});

describe('H1 throttle model (DES)', () => {
  it('F13: 5 pollers, ESM MaximumConcurrency 2 (the stack), each window’s free calls sent as zero-delay messages at once, for a simulated hour: no throttle, no redelivery, nothing in the DLQ', async () => {
    w = await makeWorld({
      sim: { activities: 600, seed: 13 },
      esm: { mode: 'maximum', pollers: 5, slots: 2, durationMs: () => 2_000 },
    });
    w.start();
    await w.runFor(HOUR);
    // The burst start: the first window's messages are due at once, not one per 9 s: all of
    // the window's 98 grantable calls but the one kept for the next scheduled run (a Lambda
    // never sleeps to wait for a slot).
    const first = w.h.sim.callLog.filter((c) => c.t - w!.t0 < 300_000).length;
    expect(first).toBeGreaterThanOrEqual(97);
    expect(w.esm.stats.invocations).toBeGreaterThan(350);
    expect(w.esm.stats.throttles).toBe(0);
    expect(w.sqs.stats.maxReceiveCount).toBe(1);
    expect(w.sqs.dlq).toHaveLength(0);
    expect(w.h.sim.http429()).toBe(0);
  }, 30_000);

  it('F13 counter-example: with reserved concurrency 1 instead of MaximumConcurrency (H1), zero-delay messages are throttled, receive counts climb and healthy messages reach the DLQ', async () => {
    w = await makeWorld({
      sim: { activities: 600, seed: 13 },
      esm: { mode: 'reserved', pollers: 5, slots: 1, durationMs: () => 2_000 },
      schedulerDeps: (d) => ({
        ...d,
        queue: {
          send: (ms) => d.queue.send(ms.map((m) => ({ ...m, delaySeconds: 0 }))),
        },
      }),
    });
    w.start();
    await w.runFor(HOUR);
    console.log(
      `F13 counter-example: throttles=${w.esm.stats.throttles} maxReceive=${w.sqs.stats.maxReceiveCount} dlq=${w.sqs.dlq.length}`,
    );
    expect(w.esm.stats.throttles).toBeGreaterThan(0);
    expect(w.sqs.stats.maxReceiveCount).toBeGreaterThanOrEqual(5);
    expect(w.sqs.dlq.length).toBeGreaterThan(0);
    expect(w.sqs.dlq.every((d) => /throttled/.test(d.reason))).toBe(true);
  }, 30_000);
});

describe('visibility expiry (DES)', () => {
  it('F11: the consumer outlives the visibility timeout: the second delivery completes, the first is absorbed, invariants hold', async () => {
    let slowDone = false;
    let slowId = '';
    w = await makeWorld({
      sim: { activities: 30, seed: 17 },
      esm: { slots: 3 },
      fetcherDeps: (d) => ({
        ...d,
        store: {
          put: async (key, body, type) => {
            if (!slowDone) {
              slowDone = true;
              slowId = /\/(\d+)\.json$/.exec(key)?.[1] ?? '';
              await w!.rt.sleep(200_000); // longer than the 180 s visibility timeout
            }
            return d.store.put(key, body, type);
          },
          get: (k) => d.store.get(k),
          hash: (k) => d.store.hash(k),
          list: (p) => d.store.list(p),
        },
      }),
    });
    const userId = w.userIds[0]!;
    w.start();
    expect(await w.runUntilQuiet(2 * 86_400_000)).toBe(true);
    await w.check();
    expect(slowId).not.toBe('');
    // The message came back while the first invocation was still running, and was processed again.
    expect(w.sqs.stats.maxReceiveCount).toBe(2);
    expect(w.sqs.dlq).toHaveLength(0);
    expect(fetchCounts(w, userId).get(slowId)).toBe(2);
    expect(w.h.store.versions.get(`raw/${userId}/fitnessActivities/${slowId}.json`)).toHaveLength(
      1,
    );
  }, 30_000);
});
