/**
 * The composition root of local mode: a data directory opened as ports
 * (SQLite ledger/accounts/budget, files, credentials), plus the CLI's logger (the lock: lock.ts).
 */
import { resolve } from 'node:path';
import {
  dataDirExposure,
  FileTokenStore,
  FsObjectStore,
  type LocalDb,
  openDb,
  SqliteAccountStore,
  SqliteBudgetStore,
  SqliteLedger,
  StateDbError,
} from '../functions/adapters/local/index.ts';
import { type BudgetConfig, SlidingWindowBudget } from '../functions/core/budget.ts';
import type { Log } from '../functions/core/ports.ts';
import { redactFields } from '../functions/core/redact.ts';
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

export function openLocal(
  dataDir: string,
  opts: { mustExist?: boolean; readOnly?: boolean; warn?: (message: string) => void } = {},
): LocalStores {
  const dir = resolve(dataDir);
  let db: LocalDb;
  try {
    db = openDb(dir, { ...opts, allowReadOnly: opts.readOnly === true });
  } catch (e) {
    if (e instanceof StateDbError) throw new CliError(e.message, EXIT.failed);
    throw e;
  }
  // Once the directory is known to be ours. Not silenced by --quiet: a cron job's mail is
  // where the owner will see it.
  const exposed = dataDirExposure(dir);
  if (exposed) (opts.warn ?? ((m) => process.stderr.write(`rk-sync: warning: ${m}\n`)))(exposed);
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
        ? ` ${Object.entries(redactFields(extra))
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
