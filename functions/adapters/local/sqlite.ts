/**
 * SQLite adapters for the budget, the ledger and the account store. Each write reads the
 * row, applies the shared pure transition, and writes back conditionally on the row's
 * version, inside one IMMEDIATE transaction, so several processes sharing the data
 * directory (a `sync` and a `status`, or two `sync`s) never lose an update.
 */
import type { BudgetState, BudgetStore } from '../../core/budget.ts';
import { EMPTY_STATE } from '../../core/budget.ts';
import type { FeedName } from '../../core/keys.ts';
import type {
  Account,
  AccountStore,
  ItemStatus,
  LedgerCounts,
  LedgerItem,
  ObservedItem,
  ObserveResult,
} from '../../core/ports.ts';
import { isPickable, observeItem, pickOrder, startSortKey } from '../../core/sync/ledger-rules.ts';
import { type Transition, TransitionLedger } from '../../core/sync/transition-ledger.ts';
import type { LocalDb } from './db.ts';

// ---------------------------------------------------------------- budget

export class SqliteBudgetStore implements BudgetStore {
  readonly #db: LocalDb;
  constructor(db: LocalDb) {
    this.#db = db;
  }

  async load(key: string): Promise<{ state: BudgetState; version: number }> {
    const row = this.#db.db.prepare('SELECT state, version FROM budget WHERE key = ?').get(key);
    if (!row) return { state: { ...EMPTY_STATE, calls: [] }, version: 0 };
    return { state: JSON.parse(String(row.state)) as BudgetState, version: Number(row.version) };
  }

  async save(key: string, state: BudgetState, expected: number): Promise<boolean> {
    const json = JSON.stringify(state);
    const { db } = this.#db;
    if (expected === 0) {
      const r = db
        .prepare(
          'INSERT INTO budget (key, state, version) VALUES (?, ?, 1) ON CONFLICT (key) DO NOTHING',
        )
        .run(key, json);
      return Number(r.changes) === 1;
    }
    const r = db
      .prepare('UPDATE budget SET state = ?, version = version + 1 WHERE key = ? AND version = ?')
      .run(json, key, expected);
    return Number(r.changes) === 1;
  }
}

// ---------------------------------------------------------------- ledger

const STATUSES: ItemStatus[] = ['PENDING', 'ENQUEUED', 'SYNCED', 'DELETED', 'FAILED'];

function emptyCounts(): LedgerCounts {
  return { PENDING: 0, ENQUEUED: 0, SYNCED: 0, DELETED: 0, FAILED: 0 };
}

interface Row {
  item: LedgerItem;
  version: number;
}

export class SqliteLedger extends TransitionLedger {
  readonly #db: LocalDb;
  constructor(db: LocalDb) {
    super();
    this.#db = db;
  }

  #row(userId: string, feed: string, id: string): Row | undefined {
    const r = this.#db.db
      .prepare('SELECT data, version FROM ledger WHERE user_id = ? AND feed = ? AND id = ?')
      .get(userId, feed, id);
    if (!r) return undefined;
    return { item: JSON.parse(String(r.data)) as LedgerItem, version: Number(r.version) };
  }

  /** Conditional write: insert when `cur` is absent, else update only at the version read. */
  #write(cur: Row | undefined, next: LedgerItem): void {
    const { db } = this.#db;
    const args = [
      next.status,
      startSortKey(next.startTime),
      JSON.stringify(next),
      next.updatedAt,
    ] as const;
    const r = cur
      ? db
          .prepare(
            'UPDATE ledger SET status = ?, start_key = ?, data = ?, updated_at = ?, version = version + 1 WHERE user_id = ? AND feed = ? AND id = ? AND version = ?',
          )
          .run(...args, next.userId, next.feed, next.id, cur.version)
      : db
          .prepare(
            'INSERT INTO ledger (status, start_key, data, updated_at, user_id, feed, id, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING',
          )
          .run(...args, next.userId, next.feed, next.id);
    if (Number(r.changes) !== 1) throw new Error('ledger: concurrent update (version changed)');
  }

  protected async apply(
    userId: string,
    feed: FeedName,
    id: string,
    f: Transition,
  ): Promise<boolean> {
    return this.#db.tx(() => {
      const cur = this.#row(userId, feed, id);
      const next = f(cur?.item);
      if (!next) return false;
      this.#write(cur, next);
      return true;
    });
  }

  async get(userId: string, feed: FeedName, id: string): Promise<LedgerItem | undefined> {
    return this.#row(userId, feed, id)?.item;
  }

  async observe(userId: string, items: ObservedItem[], now: number): Promise<ObserveResult> {
    const r: ObserveResult = { added: 0, changed: 0, unchanged: 0 };
    this.#db.tx(() => {
      for (const o of items) {
        const cur = this.#row(userId, o.feed, o.id);
        const res = observeItem(userId, cur?.item, o, now);
        if (!res) {
          r.unchanged++;
          continue;
        }
        this.#write(cur, res.next);
        r[res.kind]++;
      }
    });
    return r;
  }

  async pick(userId: string, now: number, limit: number, leaseMs: number): Promise<LedgerItem[]> {
    if (limit <= 0) return [];
    const rows = this.#db.db
      .prepare(
        "SELECT data FROM ledger WHERE user_id = ? AND status IN ('PENDING', 'ENQUEUED') ORDER BY start_key DESC",
      )
      .all(userId);
    return rows
      .map((r) => JSON.parse(String(r.data)) as LedgerItem)
      .filter((it) => isPickable(it, now, leaseMs))
      .sort(pickOrder)
      .slice(0, limit);
  }

  async counts(userId: string): Promise<LedgerCounts> {
    const c = emptyCounts();
    const rows = this.#db.db
      .prepare('SELECT status, count(*) AS n FROM ledger WHERE user_id = ? GROUP BY status')
      .all(userId);
    for (const r of rows) {
      const s = String(r.status) as ItemStatus;
      if (STATUSES.includes(s)) c[s] = Number(r.n);
    }
    return c;
  }

  async list(userId: string, status?: ItemStatus): Promise<LedgerItem[]> {
    const rows = status
      ? this.#db.db
          .prepare('SELECT data FROM ledger WHERE user_id = ? AND status = ?')
          .all(userId, status)
      : this.#db.db.prepare('SELECT data FROM ledger WHERE user_id = ?').all(userId);
    return rows.map((r) => JSON.parse(String(r.data)) as LedgerItem);
  }
}

// ---------------------------------------------------------------- accounts

export class SqliteAccountStore implements AccountStore {
  readonly #db: LocalDb;
  constructor(db: LocalDb) {
    this.#db = db;
  }

  #parse(r: Record<string, unknown>): Account {
    return { ...(JSON.parse(String(r.data)) as Account), version: Number(r.version) };
  }

  async get(userId: string): Promise<Account | undefined> {
    const r = this.#db.db
      .prepare('SELECT data, version FROM accounts WHERE user_id = ?')
      .get(userId);
    return r ? this.#parse(r) : undefined;
  }

  async list(): Promise<Account[]> {
    return this.#db.db
      .prepare('SELECT data, version FROM accounts ORDER BY user_id')
      .all()
      .map((r) => this.#parse(r));
  }

  async save(account: Account): Promise<boolean> {
    const { version, ...rest } = account;
    const json = JSON.stringify(rest);
    const { db } = this.#db;
    if (version === 0) {
      const r = db
        .prepare(
          'INSERT INTO accounts (user_id, data, version) VALUES (?, ?, 1) ON CONFLICT (user_id) DO NOTHING',
        )
        .run(account.userId, json);
      return Number(r.changes) === 1;
    }
    const r = db
      .prepare(
        'UPDATE accounts SET data = ?, version = version + 1 WHERE user_id = ? AND version = ?',
      )
      .run(json, account.userId, version);
    return Number(r.changes) === 1;
  }

  async delete(userId: string): Promise<void> {
    this.#db.db.prepare('DELETE FROM accounts WHERE user_id = ?').run(userId);
  }
}
