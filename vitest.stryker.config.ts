/**
 * The vitest configuration StrykerJS uses (npm run mutate): the unit, contract and fault
 * suites that exercise functions/core's budget and sync code. Left out: the CLI end-to-end and
 * moto suites (processes and servers) and the DES load suite (`test/sim/des.test.ts`, ~35 s a
 * run, which would make each covered mutant cost half a minute).
 */
import { defineConfig } from 'vitest/config';

// The pure modules' own fast suites (RK_MUTATE_FAST=1, npm run mutate:fast): milliseconds per
// mutant, so the run takes minutes even on a loaded machine.
const fast = [
  'test/unit/call-budget.test.ts',
  'test/unit/memory-adapters.test.ts',
  'test/unit/keys-and-limits.test.ts',
  'test/unit/index-refresh.test.ts',
  'test/unit/sync-index-owed.test.ts',
  'test/unit/sync-ledger-rules.test.ts',
  'test/unit/sync-budget.test.ts',
];
// The end-to-end core suites (SQLite adapters, the local driver, faults): the full run.
const slow = [
  'test/unit/core-sync.test.ts',
  'test/unit/local-adapters.test.ts',
  'test/unit/sync-guards.test.ts',
  'test/sim/faults.test.ts',
  'test/sim/random-faults.test.ts',
];

export default defineConfig({
  test: {
    include: process.env.RK_MUTATE_FAST === '1' ? fast : [...fast, ...slow],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { POWERTOOLS_DEV: 'true' },
  },
});
