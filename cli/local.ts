/**
 * The composition root of local mode: a data directory opened as ports
 * (SQLite ledger/accounts/budget, files, credentials), plus the CLI's logger and lock.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  FileTokenStore,
  FsObjectStore,
  type LocalDb,
  openDb,
  SqliteAccountStore,
  SqliteBudgetStore,
  SqliteLedger,
  StateDbError,
  stateDir,
} from '../functions/adapters/local/index.ts';
import { type BudgetConfig, SlidingWindowBudget } from '../functions/core/budget.ts';
import type { Log } from '../functions/core/ports.ts';
import { CliError, EXIT } from './errors.ts';

export interface LocalStores {
  dataDir: string;
  db: LocalDb;
  ledger: SqliteLedger;
  accounts: SqliteAccountStore;
  tokens: FileTokenStore;
  store: FsObjectStore;
  close(): void;
}

export function openLocal(dataDir: string, opts: { mustExist?: boolean } = {}): LocalStores {
  const dir = resolve(dataDir);
  let db: LocalDb;
  try {
    db = openDb(dir, opts);
  } catch (e) {
    if (e instanceof StateDbError) throw new CliError(e.message, EXIT.failed);
    throw e;
  }
  return {
    dataDir: dir,
    db,
    ledger: new SqliteLedger(db),
    accounts: new SqliteAccountStore(db),
    tokens: new FileTokenStore(dir),
    store: new FsObjectStore(dir),
    close: () => db.close(),
  };
}

/** The API limit as the CLI applies it: margin 2, a guard of 1 s (less for tiny test windows). */
export function budgetConfig(limit: number, windowSeconds: number): BudgetConfig {
  const windowMs = Math.round(windowSeconds * 1000);
  return {
    limit,
    windowMs,
    margin: 2,
    guardMs: Math.min(1000, Math.max(20, Math.round(windowMs / 100))),
  };
}

export function budgetFor(db: LocalDb, cfg: BudgetConfig): SlidingWindowBudget {
  return new SlidingWindowBudget(new SqliteBudgetStore(db), cfg);
}

// ---------------------------------------------------------------- logging

/** One line per message on stderr; never includes tokens (the core never passes them). */
export function cliLog(o: { quiet: boolean; verbose: boolean; onLine?: () => void }): Log {
  const line = (level: string, msg: string, extra?: Record<string, unknown>) => {
    o.onLine?.();
    const detail =
      extra && Object.keys(extra).length > 0
        ? ` ${Object.entries(extra)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ')}`
        : '';
    process.stderr.write(`rk-sync: ${level}: ${msg}${detail}\n`);
  };
  return {
    debug: (m, e) => {
      if (o.verbose) line('debug', m, e);
    },
    info: (m, e) => {
      if (o.verbose) line('info', m, e);
    },
    warn: (m, e) => {
      if (!o.quiet) line('warning', m, e);
    },
    error: (m, e) => line('error', m, e),
  };
}

// ---------------------------------------------------------------- one sync at a time

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock file `.rk-sync/sync.lock` holding our pid. A lock left by a process
 * that no longer exists (kill -9, power loss) is taken over.
 */
export function acquireSyncLock(dataDir: string, name = 'sync.lock'): () => void {
  const path = join(stateDir(dataDir), name);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let pid = 0;
      try {
        pid = Number(readFileSync(path, 'utf8').trim());
      } catch {
        continue;
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new CliError(
          `another rk-sync ${name.replace('.lock', '')} is running on ${dataDir} (pid ${pid}); wait for it or stop it`,
          EXIT.failed,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new CliError(`cannot take the ${name} lock in ${dataDir}`, EXIT.failed);
}
