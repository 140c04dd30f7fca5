/** Local adapters: one machine, files + SQLite (the embedded default of the CLI). */
export {
  type LocalDb,
  openDb,
  ReadOnlyDirError,
  SCHEMA_VERSION,
  StateDbError,
  stateDir,
  statePath,
} from './db.ts';
export {
  assertSafeKey,
  atomicWrite,
  dataDirExposure,
  FileTokenStore,
  FsObjectStore,
  historyKey,
  UnsafeKeyError,
} from './files.ts';
export { SqliteAccountStore, SqliteBudgetStore, SqliteLedger } from './sqlite.ts';
