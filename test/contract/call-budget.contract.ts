/**
 * The contract every CallBudget implementation must pass (in-memory, SQLite, DynamoDB).
 * Call `callBudgetContract(name, factory)` from a test file; the factory gets a config
 * and returns a fresh, empty budget.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BudgetConfig, CallBudget } from '../../functions/core/budget.ts';

export type BudgetFactory = (cfg: Partial<BudgetConfig>) => Promise<CallBudget>;

const T0 = Date.UTC(2026, 0, 1);

export function callBudgetContract(
  name: string,
  make: BudgetFactory,
  opts: { runs?: number } = {},
) {
  const runs = opts.runs ?? 60;
  describe(`CallBudget contract: ${name}`, () => {
    it('grants limit − margin calls in a window, then refuses with the time the oldest leaves', async () => {
      const b = await make({ limit: 10, windowMs: 60_000, margin: 2, guardMs: 0 });
      for (let i = 0; i < 8; i++) {
        const g = await b.tryAcquire('u1', T0 + i * 1000);
        expect(g.granted).toBe(true);
      }
      const refused = await b.tryAcquire('u1', T0 + 8000);
      expect(refused).toEqual({ granted: false, waitUntil: T0 + 60_000 });
      expect((await b.tryAcquire('u1', T0 + 59_999)).granted).toBe(false);
      expect((await b.tryAcquire('u1', T0 + 60_000)).granted).toBe(true);
    });

    it('keeps users independent', async () => {
      const b = await make({ limit: 3, windowMs: 1000, margin: 0, guardMs: 0 });
      for (let i = 0; i < 3; i++) expect((await b.tryAcquire('a', T0)).granted).toBe(true);
      expect((await b.tryAcquire('a', T0)).granted).toBe(false);
      expect((await b.tryAcquire('b', T0)).granted).toBe(true);
    });

    it('adds the guard to the window', async () => {
      const b = await make({ limit: 2, windowMs: 1000, margin: 0, guardMs: 500 });
      await b.tryAcquire('u', T0);
      await b.tryAcquire('u', T0);
      const g = await b.tryAcquire('u', T0 + 1000);
      expect(g).toEqual({ granted: false, waitUntil: T0 + 1500 });
    });

    it('a 429 blocks until the stated time and a revealed lower limit shrinks the budget', async () => {
      const b = await make({ limit: 100, windowMs: 900_000, margin: 2, guardMs: 0 });
      expect((await b.tryAcquire('u', T0)).granted).toBe(true);
      await b.penalize('u', T0 + 1, {
        waitUntil: T0 + 120_000,
        revealedLimit: { calls: 5, windowMs: 900_000 },
      });
      const refused = await b.tryAcquire('u', T0 + 60_000);
      expect(refused.granted).toBe(false);
      if (!refused.granted) expect(refused.waitUntil).toBe(T0 + 120_000);
      const v = await b.inspect('u', T0 + 120_000);
      expect(v.limit).toBe(5);
      expect(v.capacity).toBe(3);
      let granted = 0;
      for (let i = 0; i < 20; i++)
        if ((await b.tryAcquire('u', T0 + 120_000 + i)).granted) granted++;
      // capacity 3 (5 − margin 2), one already spent at T0 and still inside the window.
      expect(granted).toBe(2);
    });

    it('a 429 revealing a higher (app-wide) limit never raises the budget', async () => {
      const b = await make({ limit: 100, windowMs: 900_000, margin: 2, guardMs: 0 });
      await b.penalize('u', T0, {
        waitUntil: T0,
        revealedLimit: { calls: 5000, windowMs: 900_000 },
      });
      expect((await b.inspect('u', T0)).limit).toBe(100);
    });

    it('record() counts calls made outside tryAcquire', async () => {
      const b = await make({ limit: 4, windowMs: 1000, margin: 0, guardMs: 0 });
      await b.record('u', T0);
      await b.record('u', T0);
      expect((await b.inspect('u', T0)).used).toBe(2);
      expect((await b.tryAcquire('u', T0)).granted).toBe(true);
      expect((await b.tryAcquire('u', T0)).granted).toBe(true);
      expect((await b.tryAcquire('u', T0)).granted).toBe(false);
    });

    it('forecast is read-only and matches what tryAcquire will grant', async () => {
      const b = await make({ limit: 5, windowMs: 10_000, margin: 1, guardMs: 0 });
      await b.tryAcquire('u', T0);
      await b.tryAcquire('u', T0 + 1000);
      const slots = await b.forecast('u', T0 + 2000, 6, 500);
      expect(slots).toEqual([
        T0 + 2000,
        T0 + 2500,
        T0 + 10_000,
        T0 + 11_000,
        T0 + 12_000,
        T0 + 12_500,
      ]);
      expect((await b.inspect('u', T0 + 2000)).used).toBe(2);
      for (const t of slots) expect((await b.tryAcquire('u', t)).granted).toBe(true);
    });

    it('concurrent acquirers never exceed the capacity', async () => {
      const b = await make({ limit: 12, windowMs: 60_000, margin: 2, guardMs: 0 });
      expect((await b.inspect('u', T0)).capacity).toBe(10);
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => b.tryAcquire('u', T0 + (i % 3))),
      );
      expect(results.filter((r) => r.granted)).toHaveLength(10);
    });

    it('property: no window ever holds more than limit − margin granted calls', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 30 }),
          fc.integer({ min: 0, max: 3 }),
          fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 120 }),
          async (limit, margin, gaps) => {
            const cfg = { limit, windowMs: 10_000, margin, guardMs: 0 };
            const b = await make(cfg);
            const granted: number[] = [];
            let t = T0;
            for (const gap of gaps) {
              t += gap;
              if ((await b.tryAcquire('u', t)).granted) granted.push(t);
            }
            const cap = (await b.inspect('u', t)).capacity;
            expect(cap).toBeLessThanOrEqual(limit);
            for (let i = 0; i < granted.length; i++) {
              const inWindow = granted.filter(
                (g) => g > granted[i]! - cfg.windowMs && g <= granted[i]!,
              );
              expect(inWindow.length).toBeLessThanOrEqual(cap);
            }
          },
        ),
        { numRuns: runs },
      );
    });

    it('property: with work always waiting, utilisation of the limit is ≥ 95 %', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 50, max: 200 }),
          fc.integer({ min: 0, max: 999 }),
          async (limit, offset) => {
            const windowMs = 900_000;
            const b = await make({ limit, windowMs, margin: 2, guardMs: 1000 });
            // A greedy worker: call when granted, otherwise sleep until waitUntil.
            let t = T0 + offset;
            const end = t + 4 * windowMs;
            let calls = 0;
            while (t < end) {
              const g = await b.tryAcquire('u', t);
              if (g.granted) {
                calls++;
                t += 1; // each call takes a millisecond
              } else t = g.waitUntil;
            }
            const allowed = (limit * 4 * windowMs) / windowMs;
            expect(calls / allowed).toBeGreaterThanOrEqual(0.95);
          },
        ),
        { numRuns: Math.max(5, Math.floor(runs / 6)) },
      );
    });
  });
}
