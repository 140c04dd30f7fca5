/**
 * The local state database: `{dataDir}/.rk-sync/state.db` (node:sqlite, WAL, busy timeout).
 * Ledger, accounts, cursors and the call budget live here; the raw documents live as files.
 *
 * Safety rules: an existing file is validated read-only before anything is written to it.
 * A file that is not an SQLite database, fails `quick_check`, belongs to another program,
 * or was written by a newer rk-sync (higher schema_version) is refused with a
 * `StateDbError` and never modified.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** The schema this code writes. Bump it and append to MIGRATIONS together. */
export const SCHEMA_VERSION = 1;

/** Identifies the file as rk-sync's (`PRAGMA application_id`, "rkSy"). */
const APPLICATION_ID = 0x726b5379;

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE budget (
      key TEXT PRIMARY KEY,
      state TEXT NOT NULL,
      version INTEGER NOT NULL
    );
    CREATE TABLE ledger (
      user_id TEXT NOT NULL,
      feed TEXT NOT NULL,
      id TEXT NOT NULL,
      status TEXT NOT NULL,
      start_key TEXT NOT NULL,
      data TEXT NOT NULL,
      version INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (user_id, feed, id)
    ) WITHOUT ROWID;
    CREATE INDEX ledger_status ON ledger (user_id, status);
    CREATE TABLE accounts (
      user_id TEXT PRIMARY KEY,
      data TEXT NOT NULL,
      version INTEGER NOT NULL
    );
    CREATE TABLE runs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      command TEXT NOT NULL,
      started_at INTEGER NOT NULL,
      finished_at INTEGER,
      outcome TEXT,
      summary TEXT
    );
  `,
};

/** A refusal to use the data directory, with a message fit for the user. */
export class StateDbError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StateDbError';
  }
}

export interface LocalDb {
  readonly db: DatabaseSync;
  readonly path: string;
  /** Opened read-only because the directory is not writable (`allowReadOnly`). */
  readonly readOnly?: boolean;
  /** Run `fn` in one IMMEDIATE transaction (serialised with other processes). */
  tx<T>(fn: () => T): T;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  close(): void;
}

export function stateDir(dataDir: string): string {
  return join(dataDir, '.rk-sync');
}

export function statePath(dataDir: string): string {
  return join(stateDir(dataDir), 'state.db');
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * A read-only connection. In a read-only directory SQLite cannot create the WAL index, so the
 * file is opened `immutable` (nobody can be writing there; committed WAL pages not yet
 * checkpointed are not seen).
 */
function openReadOnly(path: string, immutable: boolean): DatabaseSync {
  const target = immutable ? new URL(`file://${encodeURI(path)}?immutable=1`) : path;
  return new DatabaseSync(target, { readOnly: true, timeout: 5_000 });
}

/** Read-only checks of an existing file; throws StateDbError, never writes. */
function validateExisting(path: string, immutable = false): void {
  let ro: DatabaseSync | undefined;
  try {
    ro = openReadOnly(path, immutable);
    const check = ro.prepare('PRAGMA quick_check').all();
    const first = check[0] ? Object.values(check[0])[0] : 'ok';
    if (check.length !== 1 || first !== 'ok') {
      throw new StateDbError(
        `the state database ${path} is damaged (integrity check failed); it was left untouched`,
      );
    }
    const tables = ro
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all()
      .map((r) => String(r.name));
    if (tables.length === 0) return; // empty database: initialise it
    const appId = Number(Object.values(ro.prepare('PRAGMA application_id').get() ?? {})[0] ?? 0);
    if (appId !== APPLICATION_ID || !tables.includes('meta')) {
      throw new StateDbError(
        `${path} is an SQLite database but not rk-sync's state; it was left untouched`,
      );
    }
    const row = ro.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get();
    const version = Number(row?.value ?? 0);
    if (!Number.isInteger(version) || version < 0) {
      throw new StateDbError(`the state database ${path} has an unreadable schema_version`);
    }
    if (version > SCHEMA_VERSION) {
      throw new StateDbError(
        `the state database ${path} was written by a newer rk-sync (schema ${version}, this version knows ${SCHEMA_VERSION}); upgrade rk-sync`,
      );
    }
  } catch (e) {
    if (e instanceof StateDbError) throw e;
    throw new StateDbError(
      `the state database ${path} cannot be read (${describe(e)}); it was left untouched. Move it away or use another --data-dir`,
      { cause: e },
    );
  } finally {
    try {
      ro?.close();
    } catch {
      // already closed or never opened
    }
  }
}

export interface OpenDbOptions {
  /** Open an existing database only (status): do not create the data directory. */
  mustExist?: boolean;
  /** In a read-only data directory, open read-only instead of refusing (status). */
  allowReadOnly?: boolean;
}

/** The data directory cannot be written (read-only mount, permissions). */
export class ReadOnlyDirError extends StateDbError {
  readonly code = 'EROFS';
}

/** Anything besides the state database that shows an archive lives here. */
function holdsArchive(dataDir: string): boolean {
  return ['raw', 'index', join('.rk-sync', 'credentials.json')].some((p) =>
    existsSync(join(dataDir, p)),
  );
}

/** Open (creating or migrating as needed) the state database of a data directory. */
export function openDb(dataDir: string, opts: OpenDbOptions = {}): LocalDb {
  const dir = stateDir(dataDir);
  const path = statePath(dataDir);
  if (existsSync(path)) {
    const st = statSync(path);
    if (!st.isFile()) throw new StateDbError(`${path} is not a regular file`);
    if (!writable(dir)) {
      if (!opts.allowReadOnly || st.size === 0) {
        throw new ReadOnlyDirError(
          `cannot write to ${dir} (read-only file system or no permission); nothing was changed. Make the data directory writable, or use another --data-dir`,
        );
      }
      validateExisting(path, true);
      return readOnlyDb(path);
    }
    if (st.size > 0) validateExisting(path);
    else if (holdsArchive(dataDir)) {
      // SQLite never leaves an empty file behind after its first transaction: this one was
      // truncated (disk full, a copy gone wrong). Re-initialising would hide the loss.
      throw new StateDbError(
        `the state database ${path} is empty (0 bytes) although ${dataDir} holds an archive: it was truncated. It was left untouched; move it away to rebuild the state with the next sync (stored files are kept, every item is listed again)`,
      );
    }
  } else {
    if (opts.mustExist) throw new StateDbError(`no rk-sync data in ${dataDir}`);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new StateDbError(`cannot create ${dir}: ${describe(e)}`, { cause: e });
    }
  }

  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: 10_000 });
    db.exec('PRAGMA busy_timeout = 10000');
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
  } catch (e) {
    throw new StateDbError(`cannot open the state database ${path}: ${describe(e)}`, { cause: e });
  }

  const tx = <T>(fn: () => T): T => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const r = fn();
      db.exec('COMMIT');
      return r;
    } catch (e) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // the transaction was already rolled back
      }
      throw e;
    }
  };

  try {
    tx(() => {
      db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get();
      const from = Number(row?.value ?? 0);
      if (from > SCHEMA_VERSION) {
        // Checked before, but another process may have upgraded it in between.
        throw new StateDbError(
          `the state database ${path} was written by a newer rk-sync (schema ${from}); upgrade rk-sync`,
        );
      }
      for (let v = from + 1; v <= SCHEMA_VERSION; v++) {
        const sql = MIGRATIONS[v];
        if (!sql) throw new Error(`missing migration to schema ${v}`);
        db.exec(sql);
      }
      if (from < SCHEMA_VERSION) {
        db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
        db.prepare(
          "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        ).run(String(SCHEMA_VERSION));
      }
    });
  } catch (e) {
    db.close();
    if (e instanceof StateDbError) throw e;
    throw new StateDbError(`cannot prepare the state database ${path}: ${describe(e)}`, {
      cause: e,
    });
  }

  const getMetaStmt = db.prepare('SELECT value FROM meta WHERE key = ?');
  const setMetaStmt = db.prepare(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  let closed = false;
  return {
    db,
    path,
    tx,
    getMeta: (key) => {
      const r = getMetaStmt.get(key);
      return r ? String(r.value) : undefined;
    },
    setMeta: (key, value) => {
      setMetaStmt.run(key, value);
    },
    close: () => {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

/** A read-only handle (status in a read-only directory): every write throws SQLITE_READONLY. */
function readOnlyDb(path: string): LocalDb {
  const db = openReadOnly(path, true);
  const getMetaStmt = db.prepare('SELECT value FROM meta WHERE key = ?');
  let closed = false;
  return {
    db,
    path,
    readOnly: true,
    tx: (fn) => fn(),
    getMeta: (key) => {
      const r = getMetaStmt.get(key);
      return r ? String(r.value) : undefined;
    },
    setMeta: () => {
      throw new ReadOnlyDirError(`${path} is open read-only`);
    },
    close: () => {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
