// The fast mutation run (npm run mutate:fast): the pure modules (call budget, ledger rules,
// transition ledger, retry, index refresh) against the unit suites only. Minutes, not an hour.
import { readFileSync } from 'node:fs';

const base = JSON.parse(readFileSync(new URL('./stryker.config.json', import.meta.url), 'utf8'));
process.env.RK_MUTATE_FAST = '1';

export default {
  ...base,
  _comment: undefined,
  mutate: [
    'functions/core/budget.ts',
    'functions/core/sync/ledger-rules.ts',
    'functions/core/sync/transition-ledger.ts',
    'functions/core/sync/retry.ts',
    'functions/core/sync/index-refresh.ts',
  ],
  incrementalFile: '.tmp/mutation/fast-incremental.json',
  jsonReporter: { fileName: '.tmp/mutation/fast.json' },
};
