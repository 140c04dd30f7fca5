/**
 * One sync per data directory: a row in the state database's `meta` table (`sync_lock`, the
 * holder's pid and start time), taken and released inside an IMMEDIATE transaction. SQLite's
 * write lock serialises concurrent takers, so when a stale lock (kill -9, power loss) is taken
 * over by several processes at once, exactly one wins; the others see a live holder.
 *
 * A holder is live while its pid exists and, where /proc tells, that process started before the
 * lock was taken (a pid reused by an unrelated process after a crash does not block forever).
 */
import { readFileSync } from 'node:fs';
import type { LocalDb } from '../functions/adapters/local/index.ts';
import { CliError, EXIT } from './errors.ts';

const KEY = 'sync_lock';

export interface LockHolder {
  pid: number;
  /** Epoch ms when the holder took the lock. */
  since: number;
}

function parse(value: string | undefined): LockHolder | undefined {
  if (!value) return undefined;
  try {
    const v = JSON.parse(value) as Partial<LockHolder>;
    if (Number.isInteger(v.pid) && (v.pid ?? 0) > 0 && Number.isFinite(v.since)) {
      return { pid: v.pid!, since: v.since! };
    }
  } catch {
    // unreadable: treated as no lock
  }
  return undefined;
}

/** When the process started (epoch ms), from /proc on Linux; undefined elsewhere. */
function processStartedAt(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(btime)) return undefined;
    return btime * 1000 + (ticks / 100) * 1000;
  } catch {
    return undefined;
  }
}

export function isLive(h: LockHolder): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = processStartedAt(h.pid);
  // USER_HZ is 100 on Linux: allow its rounding plus clock slack.
  return started === undefined || started <= h.since + 2_000;
}

/** The live holder of the sync lock, if any (read-only; for `status`). */
export function syncLockHolder(db: LocalDb): LockHolder | undefined {
  const h = parse(db.getMeta(KEY));
  return h && isLive(h) ? h : undefined;
}

/**
 * Take the sync (or push) lock or refuse with exit code 75 (EX_TEMPFAIL: try again later). Returns the
 * release function (idempotent; releases only a lock this process holds).
 */
export function acquireSyncLock(
  db: LocalDb,
  dataDir: string,
  now = Date.now(),
  what: 'sync' | 'push' = 'sync',
): () => void {
  const me = process.pid;
  const key = what === 'sync' ? KEY : `${what}_lock`;
  const holder = db.tx(() => {
    const cur = parse(db.getMeta(key));
    if (cur && cur.pid !== me && isLive(cur)) return cur;
    db.setMeta(key, JSON.stringify({ pid: me, since: now }));
    return undefined;
  });
  if (holder) {
    throw new CliError(
      `another rk-sync ${what} is running on ${dataDir} (pid ${holder.pid}, since ${new Date(holder.since).toISOString()}); nothing to do`,
      EXIT.busy,
    );
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      db.tx(() => {
        if (parse(db.getMeta(key))?.pid === me) {
          db.db.prepare('DELETE FROM meta WHERE key = ?').run(key);
        }
      });
    } catch {
      // The database is gone or unwritable: the lock is stale once this process exits.
    }
  };
}
