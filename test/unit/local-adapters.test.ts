import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FileTokenStore,
  FsObjectStore,
  historyKey,
  type LocalDb,
  openDb,
  SCHEMA_VERSION,
  SqliteAccountStore,
  SqliteBudgetStore,
  SqliteLedger,
  StateDbError,
  statePath,
} from '../../functions/adapters/local/index.ts';
import { SlidingWindowBudget } from '../../functions/core/budget.ts';
import { callBudgetContract } from '../contract/call-budget.contract.ts';
import { accountStoreContract, ledgerContract } from '../contract/ledger.contract.ts';

const root = mkdtempSync(join(tmpdir(), 'rk-local-'));
const dbs: LocalDb[] = [];
let n = 0;
function freshDir(): string {
  const d = join(root, `d${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
}
function freshDb(): LocalDb {
  const db = openDb(freshDir());
  dbs.push(db);
  return db;
}
afterAll(() => {
  for (const db of dbs) db.close();
  rmSync(root, { recursive: true, force: true });
});

callBudgetContract(
  'SQLite',
  async (cfg) => new SlidingWindowBudget(new SqliteBudgetStore(freshDb()), cfg),
  { runs: 40 },
);
ledgerContract('SQLite', async () => new SqliteLedger(freshDb()));
accountStoreContract('SQLite', async () => new SqliteAccountStore(freshDb()));

describe('SQLite state database', () => {
  it('creates {dataDir}/.rk-sync/state.db in WAL mode with the schema version', () => {
    const dir = freshDir();
    const db = openDb(dir);
    dbs.push(db);
    expect(db.path).toBe(statePath(dir));
    expect(db.getMeta('schema_version')).toBe(String(SCHEMA_VERSION));
    const mode = db.db.prepare('PRAGMA journal_mode').get();
    expect(Object.values(mode ?? {})[0]).toBe('wal');
    expect(statSync(join(dir, '.rk-sync')).mode & 0o777).toBe(0o700);
  });

  it('reopens an existing database and keeps its rows', async () => {
    const dir = freshDir();
    const a = openDb(dir);
    await new SqliteLedger(a).observe(
      '1',
      [{ feed: 'fitnessActivities', id: '5', summaryHash: 'x' }],
      1,
    );
    a.close();
    const b = openDb(dir);
    dbs.push(b);
    expect((await new SqliteLedger(b).get('1', 'fitnessActivities', '5'))?.status).toBe('PENDING');
  });

  it('two handles on one file serialise writes (no lost updates)', async () => {
    const dir = freshDir();
    const a = openDb(dir);
    const b = openDb(dir);
    dbs.push(a, b);
    const ba = new SlidingWindowBudget(new SqliteBudgetStore(a), { limit: 1000, margin: 0 });
    const bb = new SlidingWindowBudget(new SqliteBudgetStore(b), { limit: 1000, margin: 0 });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? ba : bb).tryAcquire('u', 1000 + i)),
    );
    expect((await ba.inspect('u', 2000)).used).toBe(40);
  });

  it('refuses a garbage file with a clear error and leaves it byte-for-byte untouched', () => {
    const dir = freshDir();
    mkdirSync(join(dir, '.rk-sync'));
    const garbage = Buffer.from('this is not a database, just some bytes '.repeat(200));
    writeFileSync(statePath(dir), garbage);
    expect(() => openDb(dir)).toThrow(StateDbError);
    expect(() => openDb(dir)).toThrow(/cannot be read|damaged/);
    expect(readFileSync(statePath(dir)).equals(garbage)).toBe(true);
    expect(existsSync(`${statePath(dir)}-wal`)).toBe(false);
  });

  it('refuses a database from a newer rk-sync and a foreign SQLite file', () => {
    const dir = freshDir();
    const db = openDb(dir);
    db.setMeta('schema_version', String(SCHEMA_VERSION + 1));
    db.close();
    const before = readFileSync(statePath(dir));
    expect(() => openDb(dir)).toThrow(/newer rk-sync/);
    expect(readFileSync(statePath(dir)).equals(before)).toBe(true);

    const other = freshDir();
    mkdirSync(join(other, '.rk-sync'));
    const foreign = new DatabaseSync(statePath(other));
    foreign.exec('CREATE TABLE t (x)');
    foreign.close();
    expect(() => openDb(other)).toThrow(/not rk-sync's state/);
  });
});

describe('FsObjectStore', () => {
  const enc = (s: string) => new TextEncoder().encode(s);

  it('writes atomically, skips identical bytes, hashes and lists', async () => {
    const dir = freshDir();
    const s = new FsObjectStore(dir);
    expect(
      await s.put('raw/1/fitnessActivities/2.json', enc('{"a":1}'), 'application/json'),
    ).toEqual({ written: true });
    expect(
      await s.put('raw/1/fitnessActivities/2.json', enc('{"a":1}'), 'application/json'),
    ).toEqual({ written: false });
    expect(s.writes).toBe(1);
    await s.put('raw/1/fitnessActivities/3.json', enc('{"a":2}'), 'application/json');
    await s.put('gpx/1/fitnessActivities/3.gpx', enc('<gpx/>'), 'application/gpx+xml');
    expect(new TextDecoder().decode(await s.get('raw/1/fitnessActivities/2.json'))).toBe('{"a":1}');
    expect(await s.get('raw/1/fitnessActivities/9.json')).toBeUndefined();
    expect(await s.hash('raw/1/fitnessActivities/2.json')).toBe(
      '015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862',
    );
    const keys: string[] = [];
    for await (const k of s.list('raw/1/')) keys.push(k);
    expect(keys).toEqual(['raw/1/fitnessActivities/2.json', 'raw/1/fitnessActivities/3.json']);
    const all: string[] = [];
    for await (const k of s.list('')) all.push(k);
    expect(all).toHaveLength(3); // .rk-sync and temp files are hidden
  });

  it('keeps a replaced raw revision in history/', async () => {
    const dir = freshDir();
    const s = new FsObjectStore(dir);
    const key = 'raw/1/fitnessActivities/2.json';
    await s.put(key, enc('{"v":1}'), 'application/json');
    await s.put(key, enc('{"v":2}'), 'application/json');
    await s.put(key, enc('{"v":3}'), 'application/json');
    const hist: string[] = [];
    for await (const k of s.list('history/')) hist.push(k);
    expect(hist).toHaveLength(2);
    expect(hist.every((k) => k.startsWith('history/raw/1/fitnessActivities/2/'))).toBe(true);
    const bodies = await Promise.all(
      hist.map(async (k) => new TextDecoder().decode(await s.get(k))),
    );
    expect(bodies.sort()).toEqual(['{"v":1}', '{"v":2}']);
    expect(new TextDecoder().decode(await s.get(key))).toBe('{"v":3}');
    expect(historyKey('raw/1/x/2.json', 0, 'abcdef1234')).toBe(
      'history/raw/1/x/2/1970-01-01T00-00-00-000Z-abcdef12.json',
    );
  });

  it('rejects keys that could escape the root', async () => {
    const s = new FsObjectStore(freshDir());
    for (const bad of [
      '../x.json',
      'raw/../../x.json',
      '/etc/passwd',
      'raw\\x.json',
      'raw/\0.json',
      '',
      'raw//x.json',
      'raw/./x.json',
      '.rk-sync/state.db',
      'C:/x.json',
    ]) {
      await expect(s.put(bad, enc('x'), 'text/plain'), bad).rejects.toThrow(/storage key/);
    }
  });
});

describe('FileTokenStore', () => {
  it('stores tokens in a 0600 file inside a 0700 directory', async () => {
    const dir = freshDir();
    const t = new FileTokenStore(dir);
    expect(await t.get('1')).toBeUndefined();
    await t.put('1', 'secret-token');
    await t.put('2', 'other');
    expect(await t.get('1')).toBe('secret-token');
    expect(statSync(t.path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, '.rk-sync')).mode & 0o777).toBe(0o700);
    await t.delete('2');
    expect(await t.get('2')).toBeUndefined();
    expect(JSON.parse(readFileSync(t.path, 'utf8')).tokens).toEqual({ '1': 'secret-token' });
  });
});
