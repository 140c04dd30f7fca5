/**
 * Crash, Ctrl-C, a second sync and damaged files (issue #11): the real `rk-sync` process
 * against the simulator (loopback only, a 30 calls / 2 s window on both sides). Every case
 * ends with a normal sync that must leave the archive whole: every activity once, the index
 * and manifest rebuilt, zero 429s. The disk-full and read-only cases are in
 * cli-disk-faults.test.ts (they need root for tmpfs mounts).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLocal } from '../../cli/local.ts';
import { runSync } from '../../cli/sync.ts';
import { systemClock } from '../../functions/core/clock.ts';
import { silentLog } from '../../functions/core/ports.ts';
import { type Simulator, startSimulator } from '../../simulator/server.ts';
import { expectWholeArchive } from '../helpers/archive-check.ts';
import {
  killAllChildren,
  ledgerRows,
  rawActivityFiles,
  runCli,
  spawnCli,
  waitFor,
} from '../helpers/cli.ts';
import { authCli } from '../helpers/cli-auth.ts';

const LIMIT = { calls: 30, windowMs: 2_000 };
const RATE = ['--rate-limit', String(LIMIT.calls), '--rate-window', String(LIMIT.windowMs / 1000)];
const tmp = mkdtempSync(join(tmpdir(), 'rk-crash-'));
const sims: Simulator[] = [];
let dirs = 0;

afterAll(async () => {
  killAllChildren();
  await Promise.all(sims.map((s) => s.close()));
  rmSync(tmp, { recursive: true, force: true });
});

async function sim(activities: number, seed: number): Promise<Simulator> {
  const s = await startSimulator({ activities, seed, rateLimit: LIMIT, autoApprove: true });
  sims.push(s);
  return s;
}

function newDir(): string {
  const d = join(tmp, `data${++dirs}`);
  // Private, as README asks: a 0755 directory adds a warning line to every command's stderr.
  mkdirSync(d, { mode: 0o700 });
  return d;
}

const statusJson = async (dir: string) => {
  const r = await runCli(['status', '--data-dir', dir, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as {
    accounts: { counts: { failed: number }; failures: unknown[] }[];
    lastRun: { outcome: string };
    running?: { pid: number; since: string };
  };
};

describe('crash safety of a local sync (#11)', { timeout: 120_000 }, () => {
  it('SIGKILL at many points of a sync (early, middle, after the last fetch): the next sync completes the archive, index and manifest', async () => {
    const s = await sim(60, 21);
    const dir = newDir();
    const userId = await authCli(s, dir);
    // Kill after 2, 10, 25 and 45 stored activities, then right after the last one is stored
    // (the index rebuild window), each time on the real process with SIGKILL.
    for (const k of [2, 10, 25, 45, 60]) {
      const run = spawnCli(['sync', '--data-dir', dir, '--quiet', ...RATE]);
      let exited = false;
      void run.exited.then(() => {
        exited = true;
      });
      await waitFor(() => exited || rawActivityFiles(dir, userId).length >= k, 30_000, 2);
      run.child.kill('SIGKILL');
      await run.exited;
    }
    const last = await runCli(['sync', '--data-dir', dir, '--json', ...RATE], {}, 60_000);
    expect(last.code, last.stderr).toBe(0);
    expectWholeArchive(s, dir, userId, LIMIT.calls);
  }, 180_000);

  it('a crash during the index rebuild leaves it owed: the next sync, with nothing new upstream, rebuilds it', async () => {
    const s = await sim(12, 22);
    const dir = newDir();
    const userId = await authCli(s, dir);
    expect((await runCli(['sync', '--data-dir', dir, '--quiet', ...RATE])).code).toBe(0);
    const added = s.mutate.addActivity(userId);
    const csvPath = join(dir, 'index', userId, 'activities.csv');

    const sync = async (crashOnIndex: boolean) => {
      const stores = openLocal(dir);
      if (crashOnIndex) {
        // The process dies in the middle of the rebuild: the CSV is never written.
        const put = stores.store.put.bind(stores.store);
        stores.store.put = async (key, bytes, type) => {
          if (key.endsWith('/activities.csv')) throw new Error('process killed');
          return put(key, bytes, type);
        };
      }
      try {
        return await runSync({
          stores,
          apiBaseUrl: s.apiBaseUrl,
          clock: systemClock,
          rateLimit: LIMIT.calls,
          rateWindowSeconds: LIMIT.windowMs / 1000,
          feeds: ['fitnessActivities'],
          comments: false,
          signal: new AbortController().signal,
          log: silentLog,
          progress: 'none',
          command: 'sync',
        });
      } finally {
        stores.close();
      }
    };
    expect((await sync(true)).fetched).toBe(1);
    expect(readFileSync(csvPath, 'utf8')).not.toContain(`${added},`);
    const healed = await sync(false);
    expect(healed.fetched).toBe(0);
    expect(readFileSync(csvPath, 'utf8')).toContain(`${added},`);
    expectWholeArchive(s, dir, userId, LIMIT.calls);
  });

  it('Ctrl-C during a request is no failure of the item: status lists none and the next sync exits 0', async () => {
    const s = await sim(30, 23);
    const dir = newDir();
    const userId = await authCli(s, dir);
    // The 4th activity request never gets an answer; Ctrl-C arrives while it hangs.
    s.faults.push({ match: /^\/fitnessActivities\/\d+$/, kind: 'hang', times: 1 });
    const run = spawnCli(['sync', '--data-dir', dir, ...RATE]);
    await waitFor(() => s.callLog.some((c) => c.status === 0), 20_000, 5);
    run.child.kill('SIGINT');
    expect((await run.exited).code).toBe(130);
    expect(ledgerRows(dir).filter((r) => r.lastError !== undefined)).toEqual([]);
    const st = await statusJson(dir);
    expect(st.accounts[0]!.failures).toEqual([]);
    expect(st.lastRun.outcome).toBe('aborted');

    const next = await runCli(['sync', '--data-dir', dir, '--json', ...RATE], {}, 60_000);
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expectWholeArchive(s, dir, userId, LIMIT.calls);
  });

  it('a second sync while one runs exits 75 (silent with --quiet); status says running with the pid; after a kill -9 it says did not finish', async () => {
    const s = await sim(60, 24);
    const dir = newDir();
    const userId = await authCli(s, dir);
    const first = spawnCli(['sync', '--data-dir', dir, '--quiet', ...RATE]);
    await waitFor(() => rawActivityFiles(dir, userId).length >= 2, 20_000, 5);

    const second = await runCli(['sync', '--data-dir', dir, ...RATE]);
    expect(second.code).toBe(75);
    expect(second.stderr).toMatch(
      new RegExp(`another rk-sync sync is running .*pid ${first.child.pid}`),
    );
    const quiet = await runCli(['sync', '--data-dir', dir, '--quiet', ...RATE]);
    expect(quiet).toMatchObject({ code: 75, stdout: '', stderr: '' });

    const st = await statusJson(dir);
    expect(st.running?.pid).toBe(first.child.pid);
    expect(st.lastRun.outcome).toMatch(new RegExp(`^running \\(pid ${first.child.pid}, since `));
    const text = await runCli(['status', '--data-dir', dir]);
    expect(text.stdout).toMatch(/running \(pid \d+/);

    first.child.kill('SIGKILL');
    await first.exited;
    const after = await statusJson(dir);
    expect(after.running).toBeUndefined();
    expect(after.lastRun.outcome).toBe('did not finish (killed or crashed)');
    // The stale lock is taken over.
    const resumed = await runCli(['sync', '--data-dir', dir, '--json', ...RATE], {}, 60_000);
    expect(resumed.code, resumed.stderr).toBe(0);
    expectWholeArchive(s, dir, userId, LIMIT.calls);
  });

  it('a garbage credentials file means "authorise again" (exit 3); sync never creates a missing data directory', async () => {
    const s = await sim(3, 25);
    const dir = newDir();
    await authCli(s, dir);
    writeFileSync(join(dir, '.rk-sync', 'credentials.json'), '\u0000garbage{');
    const r = await runCli(['sync', '--data-dir', dir, ...RATE]);
    expect(r.code).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/credentials file .* not valid JSON; run "rk-sync auth" again/);

    const missing = join(tmp, 'never-created');
    const m = await runCli(['sync', '--data-dir', missing]);
    expect(m.code).toBe(3);
    expect(m.stderr).toMatch(/no rk-sync data .*run "rk-sync auth"/);
    expect(existsSync(missing)).toBe(false);
  });

  it('a zero-byte state database beside an archive is refused and left as it is, not silently re-initialised', async () => {
    const s = await sim(3, 26);
    const dir = newDir();
    await authCli(s, dir);
    expect((await runCli(['sync', '--data-dir', dir, '--quiet', ...RATE])).code).toBe(0);
    const db = join(dir, '.rk-sync', 'state.db');
    for (const f of ['state.db-wal', 'state.db-shm'])
      rmSync(join(dir, '.rk-sync', f), { force: true });
    writeFileSync(db, '');
    for (const cmd of ['sync', 'status']) {
      const r = await runCli([cmd, '--data-dir', dir]);
      expect(r.code, cmd).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/is empty \(0 bytes\) .* truncated\. It was left untouched/);
    }
    expect(readFileSync(db).byteLength).toBe(0);
  });
});
