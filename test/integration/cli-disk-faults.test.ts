/**
 * A full disk and a read-only data directory (issue #11.3, #11.4), for real: the data
 * directory is a small tmpfs mount (root only; skipped with the reason printed otherwise).
 * A full disk must end the command at once with one line saying what to do, and the next sync
 * after space returns must leave the archive whole, derived files and index included. A
 * read-only directory can still be inspected with `status`; `sync` refuses in one line.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectWholeArchive } from '../helpers/archive-check.ts';
import { rawActivityFiles, runCli } from '../helpers/cli.ts';
import { authCli } from '../helpers/cli-auth.ts';
import { cliEnv, LIMIT, RATE } from '../helpers/cli-env.ts';

const { tmp, sim } = cliEnv('rk-disk-');
const mounts: string[] = [];

function mount(dir: string, options: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  mounts.push(dir);
}
const remount = (dir: string, options: string) =>
  execFileSync('mount', ['-o', `remount,${options}`, dir], { stdio: 'pipe' });

/** Why these tests cannot run here, or undefined when a tmpfs can be mounted. */
const cannotMount = ((): string | undefined => {
  if (process.getuid?.() !== 0) return 'not running as root (tmpfs mounts need root)';
  const probe = join(tmp, 'probe');
  mkdirSync(probe);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return `mount -t tmpfs failed: ${(e as Error).message.split('\n')[0]}`;
  }
})();
if (cannotMount) console.log(`[rk-sync] disk-fault tests skipped: ${cannotMount}`);

// Registered after cliEnv's: runs first, so the mounts are gone before the folder is removed.
afterAll(() => {
  for (const m of mounts.reverse()) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'pipe' });
    } catch {
      // already unmounted
    }
  }
});

function oneCleanLine(stderr: string): string {
  expect(stderr).not.toMatch(/\n\s+at |ERR_SQLITE|unexpected error/);
  const lines = stderr.trim().split('\n');
  return lines.at(-1)!;
}

describe.skipIf(cannotMount !== undefined)(
  'disk full and read-only data directories',
  {
    timeout: 180_000,
  },
  () => {
    it('disk full during a sync: exit 1 at once with what to do; after space returns the next sync heals every raw, derived and index file', async () => {
      const s = await sim(40, 31);
      const dir = join(tmp, 'full');
      mkdirSync(dir);
      mount(dir, 'size=768k');
      const userId = await authCli(s, dir);
      // The simulator's timeout kills a sync that retries instead of stopping (it used to take
      // about 2.5 minutes before "unexpected error").
      const full = await runCli(['sync', '--data-dir', dir, ...RATE], {}, 60_000);
      expect(full.code, full.stderr).toBe(1);
      expect(oneCleanLine(full.stderr)).toMatch(
        /the disk holding .* is full .* Free some space and run the command again/,
      );
      const storedWhileFull = rawActivityFiles(dir, userId).length;
      expect(storedWhileFull).toBeLessThan(40);

      remount(dir, 'size=64m');
      const healed = await runCli(['sync', '--data-dir', dir, '--json', ...RATE], {}, 90_000);
      expect(healed.code, healed.stderr).toBe(0);
      expectWholeArchive(s, dir, userId, LIMIT.calls);
    });

    it('demo on a full disk: one clear line and exit 1, no stack trace', async () => {
      const dir = join(tmp, 'demo-full');
      mkdirSync(dir);
      mount(dir, 'size=256k');
      const r = await runCli(
        ['demo', '--data-dir', dir, '--activities', '40', '--duration', '3'],
        {},
        60_000,
      );
      expect(r.code, r.stderr).toBe(1);
      expect(oneCleanLine(r.stderr)).toMatch(/is full .* Free some space/);
    });

    it('a read-only data directory: status still reports (no "damaged"), sync refuses in one line, and works again once writable', async () => {
      const s = await sim(8, 32);
      const dir = join(tmp, 'ro');
      mkdirSync(dir);
      mount(dir, 'size=16m');
      const userId = await authCli(s, dir);
      expect((await runCli(['sync', '--data-dir', dir, '--quiet', ...RATE])).code).toBe(0);
      s.mutate.addActivity(userId);
      remount(dir, 'ro');

      const st = await runCli(['status', '--data-dir', dir]);
      expect(st.code, st.stderr).toBe(0);
      expect(st.stdout + st.stderr).not.toMatch(/damaged|Move it away|cannot be read/);
      expect(st.stdout).toMatch(/read-only/);
      expect(st.stdout).toMatch(/synced 8 /);

      const callsBefore = s.callLog.length;
      const sync = await runCli(['sync', '--data-dir', dir, ...RATE]);
      expect(sync.code).toBe(1);
      expect(oneCleanLine(sync.stderr)).toMatch(/cannot write to .*read-only file system/);
      // Refused before spending any API call.
      expect(s.callLog.length).toBe(callsBefore);

      remount(dir, 'rw');
      const again = await runCli(['sync', '--data-dir', dir, '--json', ...RATE], {}, 60_000);
      expect(again.code, again.stderr).toBe(0);
      expectWholeArchive(s, dir, userId, LIMIT.calls);
    });
  },
);
