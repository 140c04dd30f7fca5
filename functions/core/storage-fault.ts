/**
 * Faults of the storage under the archive that no retry can fix: the disk (or quota) is full,
 * or the data directory is read-only. The sync stops at once on them (nothing is marked done
 * that was not fully written) instead of retrying for minutes, and the next run heals.
 *
 * Recognised by the shapes Node reports: a system error code (`ENOSPC`, `EDQUOT`, `EROFS`,
 * `EACCES`/`EPERM` on a write), or node:sqlite's `errcode` (SQLITE_FULL 13, SQLITE_READONLY 8,
 * SQLITE_CANTOPEN 14; extended codes carry the primary code in their low byte).
 */
export type StorageFault = 'full' | 'read-only';

const FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);
const READ_ONLY_CODES = new Set(['EROFS', 'EACCES', 'EPERM']);
const SQLITE_FULL = 13;
const SQLITE_READONLY = 8;
const SQLITE_CANTOPEN = 14;

export function storageFault(e: unknown): StorageFault | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    if (typeof cur !== 'object') return undefined;
    const err = cur as { code?: unknown; errcode?: unknown; cause?: unknown };
    if (typeof err.code === 'string') {
      if (FULL_CODES.has(err.code)) return 'full';
      if (READ_ONLY_CODES.has(err.code)) return 'read-only';
    }
    if (typeof err.errcode === 'number') {
      const primary = err.errcode & 0xff;
      if (primary === SQLITE_FULL) return 'full';
      if (primary === SQLITE_READONLY || primary === SQLITE_CANTOPEN) return 'read-only';
    }
    cur = err.cause;
  }
  return undefined;
}
