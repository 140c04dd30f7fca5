/**
 * Local adapters of the Strava push: the push ledger in the state database (its own table,
 * created on first use, so the core schema version is untouched) and the Strava tokens in the
 * 0600 credentials file (replaced atomically, so a rotated refresh token is never half-written).
 */
import type { PushLedger, PushRecord } from '../../core/strava/ledger.ts';
import type { StravaTokenStore, StravaTokens } from '../../core/strava/oauth.ts';
import type { LocalDb } from './db.ts';
import type { FileTokenStore } from './files.ts';

export class SqlitePushLedger implements PushLedger {
  readonly #db: LocalDb;
  constructor(db: LocalDb) {
    this.#db = db;
    db.db.exec(`CREATE TABLE IF NOT EXISTS push_ledger (
      dest TEXT NOT NULL,
      user_id TEXT NOT NULL,
      id TEXT NOT NULL,
      state TEXT NOT NULL,
      data TEXT NOT NULL,
      version INTEGER NOT NULL,
      PRIMARY KEY (dest, user_id, id)
    ) WITHOUT ROWID`);
  }

  async get(dest: string, userId: string, id: string): Promise<PushRecord | undefined> {
    const row = this.#db.db
      .prepare('SELECT data, version FROM push_ledger WHERE dest = ? AND user_id = ? AND id = ?')
      .get(dest, userId, id);
    return row
      ? { ...(JSON.parse(String(row.data)) as PushRecord), version: Number(row.version) }
      : undefined;
  }

  async save(rec: PushRecord): Promise<boolean> {
    const { version, ...data } = rec;
    const json = JSON.stringify(data);
    const db = this.#db.db;
    const r =
      version === 0
        ? db
            .prepare(
              'INSERT INTO push_ledger (dest, user_id, id, state, data, version) VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING',
            )
            .run(rec.dest, rec.userId, rec.id, rec.state, json)
        : db
            .prepare(
              'UPDATE push_ledger SET state = ?, data = ?, version = version + 1 WHERE dest = ? AND user_id = ? AND id = ? AND version = ?',
            )
            .run(rec.state, json, rec.dest, rec.userId, rec.id, version);
    return Number(r.changes) === 1;
  }

  async list(dest: string, userId: string): Promise<PushRecord[]> {
    return this.#db.db
      .prepare('SELECT data, version FROM push_ledger WHERE dest = ? AND user_id = ? ORDER BY id')
      .all(dest, userId)
      .map((row) => ({
        ...(JSON.parse(String(row.data)) as PushRecord),
        version: Number(row.version),
      }));
  }
}

/** The Strava tokens of one archive user, as one entry of the 0600 credentials file. */
export class FileStravaTokens implements StravaTokenStore {
  readonly #file: FileTokenStore;
  readonly #key: string;
  constructor(file: FileTokenStore, userId: string) {
    this.#file = file;
    this.#key = `strava:${userId}`;
  }
  async get(): Promise<StravaTokens | undefined> {
    const s = await this.#file.get(this.#key);
    return s ? (JSON.parse(s) as StravaTokens) : undefined;
  }
  async put(t: StravaTokens): Promise<void> {
    await this.#file.put(this.#key, JSON.stringify(t));
  }
}
