/**
 * The sync lock (#12.5): a stale lock left by a killed sync is taken over by exactly one of
 * many processes racing for it (the old pid-file lock let two win in 3 of 30 trials), a live
 * holder refuses everyone with exit code 75, and release frees it for the next taker.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { openLocal } from '../../cli/local.ts';
import { acquireSyncLock, syncLockHolder } from '../../cli/lock.ts';

const TAKER = join(import.meta.dirname, '..', 'helpers', 'lock-taker.ts');
const tmp = mkdtempSync(join(tmpdir(), 'rk-lock-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** The pid of a process that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

function taker(dir: string) {
  const child = spawn(process.execPath, [TAKER, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  const nth = async (n: number): Promise<string> => {
    while (lines.length < n) await new Promise<void>((r) => waiters.push(r));
    return lines[n - 1]!;
  };
  return { child, nth };
}

describe('sync lock', () => {
  it('many processes taking over a stale lock at once: exactly one wins, every round', async () => {
    const dir = join(tmp, 'race');
    openLocal(dir).close();
    for (let round = 0; round < 4; round++) {
      const stores = openLocal(dir);
      stores.db.setMeta('sync_lock', JSON.stringify({ pid: deadPid(), since: Date.now() - 1000 }));
      expect(syncLockHolder(stores.db)).toBeUndefined();
      stores.close();
      const takers = Array.from({ length: 6 }, () => taker(dir));
      for (const t of takers) expect(await t.nth(1)).toBe('ready');
      for (const t of takers) t.child.stdin!.write('go\n');
      const results = await Promise.all(takers.map((t) => t.nth(2)));
      expect(
        results.filter((r) => r === 'won'),
        results.join(', '),
      ).toHaveLength(1);
      expect(results.filter((r) => r === 'refused 75')).toHaveLength(5);
      const winner = takers[results.indexOf('won')]!;
      const check = openLocal(dir);
      expect(syncLockHolder(check.db)?.pid).toBe(winner.child.pid);
      check.close();
      await Promise.all(
        takers.map((t) => {
          t.child.stdin!.end();
          return new Promise((r) => t.child.once('exit', r));
        }),
      );
    }
  }, 120_000);

  it('a live holder refuses with exit code 75; after release the next taker gets it', () => {
    const dir = join(tmp, 'live');
    const stores = openLocal(dir);
    // Held by this very test process's parent: alive, and not us.
    stores.db.setMeta('sync_lock', JSON.stringify({ pid: process.ppid, since: Date.now() }));
    expect(() => acquireSyncLock(stores.db, dir)).toThrow(
      expect.objectContaining({ exitCode: 75, message: expect.stringMatching(/is running/) }),
    );
    stores.db.setMeta('sync_lock', JSON.stringify({ pid: deadPid(), since: Date.now() }));
    const release = acquireSyncLock(stores.db, dir);
    expect(syncLockHolder(stores.db)?.pid).toBe(process.pid);
    release();
    expect(syncLockHolder(stores.db)).toBeUndefined();
    expect(stores.db.getMeta('sync_lock')).toBeUndefined();
    stores.close();
  });

  it('a pid reused by a process started after the lock was taken does not hold it', () => {
    const dir = join(tmp, 'reused');
    const stores = openLocal(dir);
    // Our parent is alive but started long after this (fake) lock was taken in 2001.
    stores.db.setMeta(
      'sync_lock',
      JSON.stringify({ pid: process.ppid, since: Date.UTC(2001, 0, 1) }),
    );
    expect(syncLockHolder(stores.db)).toBeUndefined();
    const release = acquireSyncLock(stores.db, dir);
    release();
    stores.close();
  });
});
