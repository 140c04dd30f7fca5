/**
 * Issue 18, the texts a newcomer reads that are pure functions: the demo summary when stopped,
 * the ETA of a fresh sync (free calls at once), the unreachable-API summary, and the page
 * renderer's escaping. The same rows end to end are in test/integration/first-hour-cli.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { type DemoSummary, describeDemo } from '../../cli/demo.ts';
import { runnable, thisCommand } from '../../cli/next-step.ts';
import { describeSummary, type SyncSummary } from '../../cli/sync.ts';
import { budgetKey, memoryBudget } from '../../functions/core/budget.ts';
import { callsEtaMs, lastCallAt } from '../../functions/core/sync/eta.ts';
import { renderPage } from '../../functions/shared/pages.ts';

const demo: DemoSummary = {
  activities: 300,
  stored: 107,
  synced: 105,
  stillRecording: 2,
  apiCalls: 112,
  http429: 0,
  maxCallsInWindow: 98,
  callsPerActivity: 1.05,
  elapsedSeconds: 4.2,
  virtualSeconds: 942,
  idealVirtualSeconds: 1008,
  utilization: 1.07,
  timeScale: 60,
  seed: 42,
  userId: '123',
  dataDir: '/tmp/rk-demo',
  stopped: 'aborted',
  exitCode: 130,
};

describe('demo summary', () => {
  it('Ctrl-C: says where it stopped and the window maximum, never a share of the allowed rate', () => {
    const text = describeDemo(demo);
    expect(text).toContain('rk-sync demo stopped (aborted); run it again to resume');
    expect(text).toContain(
      '  pace:         stopped after 112 calls; never more than 98 in any 15-minute window (limit 100)',
    );
    expect(text).not.toMatch(/%|allowed rate/);
  });

  it('complete: the floor as a duration, still-recording activities explained, a runnable next step', () => {
    const text = describeDemo({
      ...demo,
      stored: 300,
      synced: 296,
      stillRecording: 4,
      apiCalls: 310,
      stopped: 'done',
      exitCode: 0,
      virtualSeconds: 2710,
    });
    expect(text).toContain(
      '300 stored: 296 complete, 4 still being recorded (stored as they are now; a later sync fetches them again, so status lists them as pending)',
    );
    // 310 calls at 98 per window, the first at once: ⌊309 / 98⌋ = 3 more windows = 45 min.
    expect(text).toContain(
      '  pace:         the limit allows these 310 calls in 45m00s at best (98 per 15-minute window, the first at once); this run took 45m10s',
    );
    expect(text).toContain('  next:         npx rk-sync status --data-dir /tmp/rk-demo');
    expect(text).not.toContain('%');
  });
});

describe('next steps run as printed', () => {
  it('npx, a relative data dir inside the folder, no flag for the default, quoting when needed', () => {
    expect(runnable('status', 'rk-data/demo')).toBe('npx rk-sync status --data-dir rk-data/demo');
    expect(runnable('sync', './rk-data')).toBe('npx rk-sync sync');
    expect(runnable('sync', '/tmp/my data')).toBe("npx rk-sync sync --data-dir '/tmp/my data'");
    expect(thisCommand(['auth', '--client-id', 'abc', '--data-dir', "it's"])).toBe(
      "npx rk-sync auth --client-id abc --data-dir 'it'\\''s'",
    );
  });
});

describe('ETA of a fresh sync (#14 §3: the whole allowance from the first second)', () => {
  it('90 calls with 98 free are due now; 200 take two more windows, not one call per 9 s', async () => {
    const budget = memoryBudget();
    const key = budgetKey('1');
    const t0 = Date.UTC(2026, 0, 1);
    expect(await callsEtaMs(budget, key, t0, 90)).toBe(0);
    // 98 now, 98 one window (900 s + 1 s guard) later, the last 4 a window after that.
    expect(await callsEtaMs(budget, key, t0, 200)).toBe(2 * 901_000);
    expect(await callsEtaMs(budget, key, t0, 0)).toBe(0);
  });

  it('a window already half spent: the free half now, the rest as the old calls leave it', async () => {
    const budget = memoryBudget();
    const key = budgetKey('1');
    const t0 = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 49; i++) await budget.record(key, t0 + i * 1000);
    const now = t0 + 100_000;
    expect(await callsEtaMs(budget, key, now, 49)).toBe(0);
    // Call 50 reuses the slot of the first old call: 901 s after it.
    expect(await callsEtaMs(budget, key, now, 50)).toBe(t0 + 901_000 - now);
    expect(lastCallAt([], 3, 1)).toBeUndefined();
  });
});

describe('an unreachable API', () => {
  it('the summary names the address and says what to check', () => {
    const s: SyncSummary = {
      stopped: 'error',
      exitCode: 1,
      users: ['1'],
      stored: 0,
      known: 0,
      pending: 0,
      unlisted: 0,
      stillRecording: 0,
      enqueued: 0,
      failed: 0,
      deleted: 0,
      fetched: 0,
      unchanged: 0,
      apiCalls: 0,
      schedulerRuns: 2,
      elapsedSeconds: 8,
      failures: [],
      error: 'Transient: cannot reach http://127.0.0.1:9 (ECONNREFUSED)',
    };
    expect(describeSummary(s)).toBe(
      [
        'rk-sync: sync stopped on an error: Transient: cannot reach http://127.0.0.1:9 (ECONNREFUSED)',
        '  stored 0/0 (this run: 0 new or changed, 0 unchanged), deleted upstream 0, pending 0, failed 0',
        '  0 API calls in 8 s',
        '  hint: check the network connection and the API address (remembered from "rk-sync auth"; --api-base-url overrides it); everything stored so far is kept, run the sync again to continue',
      ].join('\n'),
    );
  });
});

describe('page renderer', () => {
  it('escapes every text, turns `…` into code, names the app, and loads nothing', () => {
    const html = renderPage({
      title: '<script>x</script>',
      message: 'run `a<b>` now',
      tone: 'problem',
      account: 'Runkeeper user "1"',
      next: ['step `npx rk-sync sync`'],
    });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(html).toContain('run <code>a&lt;b&gt;</code> now');
    expect(html).toContain('Account: Runkeeper user &quot;1&quot;');
    expect(html).toContain('<li>step <code>npx rk-sync sync</code></li>');
    expect(html).toContain('<span>rk-sync</span>');
    expect(html).not.toMatch(/src=|href=|<link|@import|url\(/);
  });
});
