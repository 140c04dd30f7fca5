/**
 * The call budget's pure functions at their exact boundaries (the window edge, the guard,
 * the margin floor, learnt limits, forecasts, the compare-and-swap retry bound): written for
 * the mutants of `npm run mutate:fast` that the contract suite's properties let through.
 */
import { describe, expect, it } from 'vitest';
import {
  acquireBlocking,
  applyPenalty,
  type BudgetConfig,
  type BudgetState,
  type BudgetStore,
  budgetKey,
  decide,
  effective,
  forecastSlots,
  MemoryBudgetStore,
  prune,
  SlidingWindowBudget,
  view,
} from '../../functions/core/budget.ts';
import { ManualClock } from '../../functions/core/clock.ts';

const cfg: BudgetConfig = { limit: 5, windowMs: 1_000, margin: 2, guardMs: 100 };
const state = (calls: number[], extra: Partial<BudgetState> = {}): BudgetState => ({
  calls,
  blockedUntil: 0,
  ...extra,
});

describe('budget arithmetic', () => {
  it('effective: the guard widens the window, the margin never leaves less than one call', () => {
    expect(effective(state([]), cfg)).toEqual({ limit: 5, windowMs: 1_100, capacity: 3 });
    expect(effective(state([], { learnedLimit: 2, learnedWindowMs: 5_000 }), cfg)).toEqual({
      limit: 2,
      windowMs: 5_100,
      capacity: 1,
    });
    expect(effective(state([], { learnedLimit: 1 }), cfg).capacity).toBe(1);
    expect(effective(state([], { learnedLimit: 9, learnedWindowMs: 10 }), cfg)).toEqual({
      limit: 5,
      windowMs: 1_100,
      capacity: 3,
    });
  });

  it('prune: a call exactly one window (+ guard) old has left; one millisecond younger has not; sorted', () => {
    expect(prune(state([2_000, 900, 901]), 2_000, cfg).calls).toEqual([901, 2_000]);
  });

  it('decide: grants with the remaining count until capacity, then refuses with the exact free time', () => {
    let s = state([]);
    const remaining: number[] = [];
    for (const t of [0, 10, 20]) {
      const d = decide(s, t, cfg);
      expect(d.grant.granted).toBe(true);
      if (d.grant.granted) remaining.push(d.grant.remaining);
      s = d.next;
    }
    expect(remaining).toEqual([2, 1, 0]);
    const refused = decide(s, 30, cfg);
    expect(refused.grant).toEqual({ granted: false, waitUntil: 1_100 });
    expect(refused.next.calls).toEqual([0, 10, 20]);
    expect(decide(s, 1_100, cfg).grant.granted).toBe(true);
  });

  it('decide and view while blocked: nothing available until blockedUntil', () => {
    const s = state([], { blockedUntil: 500 });
    expect(decide(s, 499, cfg).grant).toEqual({ granted: false, waitUntil: 500 });
    expect(decide(s, 500, cfg).grant.granted).toBe(true);
    expect(view(s, 499, cfg)).toEqual({
      limit: 5,
      windowMs: 1_100,
      capacity: 3,
      used: 0,
      available: 0,
      blockedUntil: 500,
      nextSlotAt: 500,
    });
    // Free again exactly at blockedUntil.
    expect(view(s, 500, cfg)).toMatchObject({ available: 3, nextSlotAt: 500 });
    expect(view(state([0, 10]), 20, cfg)).toMatchObject({ used: 2, available: 1, nextSlotAt: 20 });
    expect(view(state([0, 10, 20]), 30, cfg)).toMatchObject({ available: 0, nextSlotAt: 1_100 });
  });

  it('penalty: blocks until the later time; a revealed lower limit or longer window is learnt, a higher one never', () => {
    const s = state([], { blockedUntil: 700 });
    expect(applyPenalty(s, 0, { waitUntil: 600 }, cfg).blockedUntil).toBe(700);
    expect(applyPenalty(s, 0, { waitUntil: 800 }, cfg).blockedUntil).toBe(800);
    const lower = applyPenalty(
      s,
      0,
      { waitUntil: 0, revealedLimit: { calls: 3, windowMs: 1_000 } },
      cfg,
    );
    expect(lower).toMatchObject({ learnedLimit: 3, learnedWindowMs: 1_000 });
    const higher = applyPenalty(
      s,
      0,
      { waitUntil: 0, revealedLimit: { calls: 50, windowMs: 1_000 } },
      cfg,
    );
    expect(higher.learnedLimit).toBeUndefined();
    // The same limit as configured teaches nothing either.
    const same = applyPenalty(
      s,
      0,
      { waitUntil: 0, revealedLimit: { calls: 5, windowMs: 1_000 } },
      cfg,
    );
    expect(same).toEqual({ calls: [], blockedUntil: 700 });
    const longer = applyPenalty(
      s,
      0,
      { waitUntil: 0, revealedLimit: { calls: 50, windowMs: 86_400_000 } },
      cfg,
    );
    expect(longer).toMatchObject({ learnedLimit: 50, learnedWindowMs: 86_400_000 });
    // A learnt limit only ever shrinks; the window only ever grows.
    const again = applyPenalty(
      lower,
      0,
      { waitUntil: 0, revealedLimit: { calls: 4, windowMs: 2_000 } },
      cfg,
    );
    expect(again).toMatchObject({ learnedLimit: 3, learnedWindowMs: 2_000 });
    for (const bad of [
      { calls: 0, windowMs: 1_000 },
      { calls: 3, windowMs: 0 },
    ]) {
      expect(
        applyPenalty(s, 0, { waitUntil: 0, revealedLimit: bad }, cfg).learnedLimit,
      ).toBeUndefined();
    }
  });

  it('forecast: the next free slots in order, spaced, after a block, read-only', () => {
    const s = state([0, 10]);
    expect(forecastSlots(s, 20, 3, cfg)).toEqual([20, 1_100, 1_110]);
    expect(forecastSlots(state([]), 0, 3, cfg, 50)).toEqual([0, 50, 100]);
    expect(forecastSlots(state([], { blockedUntil: 300 }), 0, 2, cfg, 10)).toEqual([300, 310]);
    expect(s.calls).toEqual([0, 10]);
  });

  it('budget keys are per user', () => {
    expect(budgetKey('123')).toBe('user#123');
  });
});

describe('SlidingWindowBudget over a store', () => {
  it('record() keeps calls sorted; a refused acquire writes nothing', async () => {
    const store = new MemoryBudgetStore();
    const b = new SlidingWindowBudget(store, cfg);
    await b.record('k', 50);
    await b.record('k', 10);
    expect((await store.load('k')).state.calls).toEqual([10, 50]);
    await b.tryAcquire('k', 60);
    const v = (await store.load('k')).version;
    expect(await b.tryAcquire('k', 70)).toEqual({ granted: false, waitUntil: 1_110 });
    expect((await store.load('k')).version).toBe(v);
    expect(b.config).toEqual(cfg);
  });

  it('gives up after 50 lost compare-and-swaps instead of looping for ever', async () => {
    let saves = 0;
    const store: BudgetStore = {
      load: async () => ({ state: state([]), version: 0 }),
      save: async () => {
        saves++;
        return false;
      },
    };
    await expect(new SlidingWindowBudget(store, cfg).tryAcquire('k', 0)).rejects.toThrow(
      'call budget: too many concurrent updates',
    );
    expect(saves).toBe(50);
  });

  it('the memory store hands out copies and refuses a stale version', async () => {
    const store = new MemoryBudgetStore();
    expect(await store.load('new')).toEqual({ state: { calls: [], blockedUntil: 0 }, version: 0 });
    expect(await store.save('k', state([1]), 0)).toBe(true);
    const a = await store.load('k');
    a.state.calls.push(99);
    expect((await store.load('k')).state.calls).toEqual([1]);
    expect(await store.save('k', state([2]), 0)).toBe(false);
    expect(await store.save('k', state([2]), 1)).toBe(true);
  });

  it('acquireBlocking sleeps exactly until the next slot', async () => {
    const clock = new ManualClock(5_000);
    const b = new SlidingWindowBudget(new MemoryBudgetStore(), cfg);
    for (let i = 0; i < 3; i++) await acquireBlocking(b, 'k', clock);
    expect(clock.now()).toBe(5_000);
    await acquireBlocking(b, 'k', clock);
    expect(clock.now()).toBe(6_100);
  });
});
