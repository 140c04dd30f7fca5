/**
 * The real `rk-sync` process against the Health Graph simulator (loopback only). The
 * simulator and the CLI run in different processes on the real clock, so the rate window
 * is shrunk on both sides (30 calls per 2 s): the budget must still keep 429s at zero.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import type { Simulator } from '../../simulator/server.ts';
import {
  allFiles,
  ledgerRows,
  rawActivityFiles,
  runCli,
  spawnCli,
  waitFor,
} from '../helpers/cli.ts';
import { authCli } from '../helpers/cli-auth.ts';
import { cliEnv, LIMIT, RATE } from '../helpers/cli-env.ts';

const { sim, newDir } = cliEnv('rk-cli-');

const apiCalls = (s: Simulator) => s.callLog.filter((c) => !c.path.startsWith('/apps/')).length;

const auth = (s: Simulator, dataDir: string) => authCli(s, dataDir);

function liveIds(s: Simulator, userId: string): Set<string> {
  return new Set(
    s.activityIds(userId).filter((id) => {
      const d = s.document(userId, 'fitnessActivities', id) as { is_live?: unknown } | undefined;
      return d?.is_live === true;
    }),
  );
}

/** Every activity has exactly one file, every ledger row is unique and SYNCED (live ones wait). */
function expectComplete(s: Simulator, dataDir: string, userId: string) {
  const ids = s.activityIds(userId).sort();
  expect(rawActivityFiles(dataDir, userId)).toEqual(ids.map((id) => `${id}.json`).sort());
  const rows = ledgerRows(dataDir).filter((r) => r.feed === 'fitnessActivities');
  const keys = rows.map((r) => r.id);
  expect(new Set(keys).size).toBe(keys.length);
  const live = liveIds(s, userId);
  for (const r of rows) {
    if (live.has(r.id)) expect(r.lastError ?? '').toMatch(/is_live/);
    else expect(r.status, `${r.id} ${r.lastError ?? ''}`).toBe('SYNCED');
  }
  expect(new Set(keys)).toEqual(new Set(ids));
  expect(s.http429()).toBe(0);
  expect(s.maxCallsInWindow(userId)).toBeLessThanOrEqual(LIMIT.calls);
}

describe('rk-sync CLI end to end', () => {
  it('sync before auth says so and exits 3', async () => {
    const r = await runCli(['sync', '--data-dir', newDir()]);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/rk-sync auth/);
  });

  it('full sync, idle rerun = one API call, then new, edited and deleted activities', async () => {
    const s = await sim(30);
    const dir = newDir();
    const userId = await auth(s, dir);

    const first = await runCli(['sync', '--data-dir', dir, '--json', ...RATE]);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({ stopped: 'done', exitCode: 0, failed: 0 });
    expectComplete(s, dir, userId);

    const before = apiCalls(s);
    const idle = await runCli(['sync', '--data-dir', dir, '--json', ...RATE]);
    expect(idle.code, idle.stderr).toBe(0);
    expect(apiCalls(s) - before).toBe(1);

    const ids = s.activityIds(userId).filter((id) => !liveIds(s, userId).has(id));
    const edited = ids[0]!;
    const deleted = ids[1]!;
    const rawPath = (id: string) => join(dir, 'raw', userId, 'fitnessActivities', `${id}.json`);
    const oldBody = readFileSync(rawPath(edited), 'utf8');
    const added = s.mutate.addActivity(userId);
    s.mutate.editActivity(userId, edited);
    s.mutate.deleteActivity(userId, deleted);

    const beforeThird = apiCalls(s);
    const third = await runCli(['sync', '--data-dir', dir, '--json', ...RATE]);
    expect(third.code, third.stderr).toBe(0);
    // One change-log call and two fetches: a just-edited item is not re-fetched in a loop.
    expect(apiCalls(s) - beforeThird).toBe(3);
    expect(existsSync(rawPath(added))).toBe(true);
    const newBody = readFileSync(rawPath(edited), 'utf8');
    expect(newBody).not.toBe(oldBody);
    const hist = allFiles(join(dir, 'history'));
    expect(hist).toHaveLength(1);
    expect(hist[0]).toMatch(new RegExp(`^raw/${userId}/fitnessActivities/${edited}/.+\\.json$`));
    expect(readFileSync(join(dir, 'history', hist[0]!), 'utf8')).toBe(oldBody);
    const rows = ledgerRows(dir);
    expect(rows.find((r) => r.id === deleted)?.status).toBe('DELETED');
    expect(existsSync(rawPath(deleted))).toBe(true); // bytes kept
    expect(rows.find((r) => r.id === added)?.status).toBe('SYNCED');
    expect(rows.find((r) => r.id === edited)?.status).toBe('SYNCED');
    expect(s.http429()).toBe(0);

    // Derived files were written beside the raw ones; export re-renders them from raw.
    const csv = readFileSync(join(dir, 'index', userId, 'activities.csv'), 'utf8');
    expect(csv).toContain(added);
    const ex = await runCli(['export', '--data-dir', dir, '--json']);
    expect(ex.code, ex.stderr).toBe(0);
    const exported = JSON.parse(ex.stdout) as { users: { rendered: number; failed: number }[] };
    expect(exported.users[0]).toMatchObject({ failed: 0 });
    expect(exported.users[0]!.rendered).toBe(rawActivityFiles(dir, userId).length);

    const st = await runCli(['status', '--data-dir', dir, '--json', ...RATE]);
    expect(st.code, st.stderr).toBe(0);
    const report = JSON.parse(st.stdout) as {
      accounts: { counts: Record<string, number>; cursors: Record<string, { done: boolean }> }[];
      lastRun: { outcome: string };
    };
    expect(report.accounts[0]!.counts.deleted).toBe(1);
    expect(report.accounts[0]!.cursors.fitnessActivities?.done).toBe(true);
    expect(report.lastRun.outcome).toBe('done');
  });

  it('resumes after SIGKILL mid-run: no loss, no duplicate files, no duplicate ledger rows', async () => {
    const s = await sim(45, 11);
    const dir = newDir();
    const userId = await auth(s, dir);
    const run = spawnCli(['sync', '--data-dir', dir, '--quiet', ...RATE]);
    await waitFor(() => rawActivityFiles(dir, userId).length >= 12, 20_000, 5);
    run.child.kill('SIGKILL');
    const { signal } = await run.exited;
    expect(signal).toBe('SIGKILL');
    expect(rawActivityFiles(dir, userId).length).toBeLessThan(45);

    const again = await runCli(['sync', '--data-dir', dir, '--json', ...RATE]);
    expect(again.code, again.stderr).toBe(0);
    expectComplete(s, dir, userId);
    // Nothing was stored twice: no replaced revisions, no stray temp files.
    expect(allFiles(join(dir, 'history'))).toHaveLength(0);
    expect(allFiles(join(dir, 'raw')).filter((f) => f.includes('.tmp'))).toHaveLength(0);
  });

  it('Ctrl-C (SIGINT) stops cleanly with exit 130 and keeps what was stored', async () => {
    const s = await sim(45, 13);
    const dir = newDir();
    const userId = await auth(s, dir);
    const run = spawnCli(['sync', '--data-dir', dir, ...RATE]);
    await waitFor(() => rawActivityFiles(dir, userId).length >= 5, 20_000, 5);
    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(code).toBe(130);
    expect(run.stdout() + run.stderr()).toMatch(/interrupted/);
    expect(run.stderr()).not.toMatch(/\n\s+at /);
    for (const f of rawActivityFiles(dir, userId)) {
      JSON.parse(readFileSync(join(dir, 'raw', userId, 'fitnessActivities', f), 'utf8'));
    }
    const st = await runCli(['status', '--data-dir', dir, '--json']);
    expect(st.code).toBe(0);
    expect((JSON.parse(st.stdout) as { lastRun: { outcome: string } }).lastRun.outcome).toBe(
      'aborted',
    );
    // The sync lock (a row of the state database) was released on the way out.
    const meta = new DatabaseSync(join(dir, '.rk-sync', 'state.db'), { readOnly: true });
    expect(meta.prepare("SELECT value FROM meta WHERE key = 'sync_lock'").get()).toBeUndefined();
    meta.close();
  });

  it('bad arguments and unreadable config: exit 2 with one line, no stack trace', async () => {
    const dir = newDir();
    const badJson = join(dir, 'bad.json');
    writeFileSync(badJson, '{ not json');
    const unknownKey = join(dir, 'unknown.json');
    writeFileSync(unknownKey, JSON.stringify({ clientID: 'typo' }));
    for (const args of [
      ['sync', '--rate-limit', 'lots'],
      ['sync', '--feeds', 'everything'],
      ['--no-such-option'],
      ['no-such-command'],
      ['demo', '--activities', '-5'],
      ['sync', '--config', join(dir, 'missing.json')],
      ['sync', '--config', badJson],
      ['status', '--config', unknownKey],
      ['auth', '--data-dir', dir],
    ]) {
      const r = await runCli(['--data-dir', dir, ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0]).toMatch(/^rk-sync: /);
    }
    const help = await runCli(['sync', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes/);
  });

  it('a corrupt state database gets a clear error and is never overwritten', async () => {
    const dir = newDir();
    mkdirSync(join(dir, '.rk-sync'));
    const db = join(dir, '.rk-sync', 'state.db');
    const garbage = Buffer.from('garbage, not SQLite\n'.repeat(100));
    writeFileSync(db, garbage);
    for (const cmd of ['sync', 'status']) {
      const r = await runCli([cmd, '--data-dir', dir]);
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/state database .* cannot be read .* left untouched/);
    }
    expect(readFileSync(db).equals(garbage)).toBe(true);
    expect(allFiles(join(dir, '.rk-sync'))).toEqual(['state.db']);
  });

  it('demo --json: the last line is the summary, every activity stored, zero 429s', async () => {
    const dir = newDir();
    const r = await runCli(
      ['demo', '--data-dir', dir, '--json', '--activities', '40', '--duration', '3'],
      {},
      40_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const last = r.stdout.trim().split('\n').at(-1)!;
    const d = JSON.parse(last) as Record<string, number>;
    expect(d).toMatchObject({ activities: 40, stored: 40, http429: 0 });
    for (const f of [
      'apiCalls',
      'callsPerActivity',
      'elapsedSeconds',
      'virtualSeconds',
      'idealVirtualSeconds',
      'utilization',
    ]) {
      expect(typeof d[f], f).toBe('number');
    }
    expect(d.apiCalls).toBeGreaterThanOrEqual(40);
    expect(d.callsPerActivity).toBeLessThan(1.3);
  });
});
