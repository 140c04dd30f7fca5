/**
 * F14: random fault schedules (fast-check, seeded, bounded). Each run is a small world (30
 * activities) driven by the DES; a schedule mixes duplicates, crashes at step boundaries,
 * 5xx and 429 bursts, visibility expiry, clock jumps and upstream edits/deletes/inserts.
 * After quiescence (faults cleared, run to completion) every INV-* must hold.
 * Replay a failure: FC_SEED=<seed printed by fast-check> npx vitest run test/sim/random-faults
 */
import fc from 'fast-check';
import { afterEach, describe, it } from 'vitest';
import { Crasher } from './crash.ts';
import { makeWorld, type World } from './world.ts';

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 0x7f14;
const RUNS = Number(process.env.FC_RUNS ?? 15);

type Step =
  | { kind: 'advance'; ms: number }
  | { kind: 'jump'; ms: number }
  | { kind: 'burst5xx'; length: number }
  | { kind: 'storm429'; length: number }
  | { kind: 'retryAfter'; seconds: number }
  | { kind: 'duplicate'; copies: number }
  | { kind: 'edit' | 'delete'; pick: number }
  | { kind: 'insert' }
  | { kind: 'expireVisibility' }
  | { kind: 'crashScheduler'; k: number }
  | { kind: 'crashFetcher'; k: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('advance' as const),
    ms: fc.integer({ min: 1_000, max: 1_800_000 }),
  }),
  fc.record({
    kind: fc.constant('jump' as const),
    ms: fc.integer({ min: 3_600_000, max: 3 * 86_400_000 }),
  }),
  fc.record({ kind: fc.constant('burst5xx' as const), length: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('storm429' as const), length: fc.integer({ min: 1, max: 3 }) }),
  fc.record({
    kind: fc.constant('retryAfter' as const),
    seconds: fc.integer({ min: 1, max: 900 }),
  }),
  fc.record({ kind: fc.constant('duplicate' as const), copies: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constantFrom('edit' as const, 'delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const) }),
  fc.record({ kind: fc.constant('expireVisibility' as const) }),
  fc.record({ kind: fc.constant('crashScheduler' as const), k: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ kind: fc.constant('crashFetcher' as const), k: fc.integer({ min: 1, max: 12 }) }),
);

describe('random fault schedules', () => {
  it('F14: after any schedule of duplicates, crashes, 5xx/429 bursts, visibility expiry, clock jumps and upstream changes, every INV-* holds at quiescence', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const sched = new Crasher(Number.POSITIVE_INFINITY);
        const fetch = new Crasher(Number.POSITIVE_INFINITY, () => true, 'ledger.get');
        w = await makeWorld({
          sim: { activities: 30, seed: 31 },
          schedulerDeps: (d) => sched.deps(d),
          fetcherDeps: (d) => fetch.deps(d),
          crash: (_m, p) => fetch.tick(`fetcher.${p}`),
        });
        const world = w;
        const userId = world.userIds[0]!;
        let injected429 = false;
        world.start();
        for (const s of steps) {
          const ids = world.h.sim.activityIds(userId);
          switch (s.kind) {
            case 'advance':
              await world.runFor(s.ms);
              break;
            case 'jump':
              // The clock jumps (a long outage): nothing runs in between.
              world.h.clock.advance(s.ms);
              break;
            case 'burst5xx':
              world.h.sim.faults.set({ burst5xx: { every: 10, length: s.length } });
              break;
            case 'storm429':
              injected429 = true;
              world.h.sim.faults.set({ storm429: { every: 40, length: s.length } });
              break;
            case 'retryAfter':
              injected429 = true;
              world.h.sim.faults.push({ kind: '429', retryAfter: s.seconds });
              break;
            case 'duplicate': {
              const m = world.sqs.messages()[0];
              if (m)
                for (let i = 0; i < s.copies; i++)
                  await world.sqs.send([{ body: m.body, delaySeconds: i % 2 === 0 ? 0 : 60 }]);
              break;
            }
            case 'edit':
            case 'delete': {
              const id = ids[s.pick % Math.max(1, ids.length)];
              if (id === undefined) break;
              if (s.kind === 'edit') {
                world.h.sim.mutate.editActivity(userId, id);
                world.edits.set(id, (world.edits.get(id) ?? 0) + 1);
              } else world.h.sim.mutate.deleteActivity(userId, id);
              break;
            }
            case 'insert':
              world.h.sim.mutate.addActivity(userId);
              break;
            case 'expireVisibility':
              // Every in-flight message becomes visible again now (a consumer that timed out).
              for (const m of world.sqs.messages())
                if (m.receiveCount > 0) m.visibleAt = world.h.clock.now();
              break;
            case 'crashScheduler':
              sched.crashAt = sched.ops + s.k;
              break;
            case 'crashFetcher':
              fetch.crashAt = fetch.ops + s.k;
              break;
          }
        }
        await world.runFor(600_000);
        // Quiescence: faults cleared, nothing crashes any more, run to completion.
        world.h.sim.faults.clear();
        sched.crashAt = Number.POSITIVE_INFINITY;
        fetch.crashAt = Number.POSITIVE_INFINITY;
        sched.reset();
        fetch.reset();
        const quiet = await world.runUntilQuiet(7 * 86_400_000);
        if (!quiet) throw new Error('did not reach quiescence within 7 virtual days');
        // Redrive: a message that reached the DLQ under injected faults must be healthy work
        // that a redrive completes (the DLQ keeps only poison).
        const dead = world.sqs.dlq.splice(0);
        for (const d of dead) await world.sqs.send([{ body: d.body, delaySeconds: 0 }]);
        if (dead.length > 0 && !(await world.runUntilQuiet(DAY)))
          throw new Error('redrive did not complete');
        await world.check({ allow429: injected429 });
        await world.close();
        w = undefined;
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 55_000);
});

const DAY = 86_400_000;
