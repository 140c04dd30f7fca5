/**
 * DynamoDB adapters for the budget, ledger, accounts (OAuth state: ./auth-state.ts) (layout:
 * ./table.ts). Every mutation is get → pure transition (core) → Put conditioned on the
 * version read, retried a bounded number of times on conflict. Long because the ledger's
 * batched observe, its byWork pick and per-user queries sit beside the item shapes they read.
 */
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { BudgetState, BudgetStore } from '../../core/budget.ts';
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
import { GSI_BY_WORK, isConditionFailed, keys, toEpochSeconds, versionCondition } from './table.ts';

const MAX_CAS_ATTEMPTS = 20;
const MAX_PAGES = 10_000;

/** Budget items outlive their window by far; an idle user's budget item expires after a week. */
const BUDGET_TTL_MS = 7 * 86_400_000;

// ---------------------------------------------------------------- budget

/**
 * Call timestamps are stored as one string: the first in base 36, then the gaps between
 * consecutive calls ("lxk3p0a8,1c,9,..."). A full window of 100 calls is ~500 bytes instead
 * of a ~2 KB list of numbers: one write unit per call instead of three, and much cheaper to
 * (de)serialise. Fractional times (scaled clocks) round up, which only ever makes a call
 * leave the window later.
 */
export function encodeCalls(calls: number[]): string {
  const sorted = calls.map((t) => Math.ceil(t)).sort((a, b) => a - b);
  return sorted.map((t, i) => (i === 0 ? t : t - sorted[i - 1]!).toString(36)).join(',');
}

export function decodeCalls(v: unknown): number[] {
  if (Array.isArray(v)) return v.map(Number);
  if (typeof v !== 'string' || v.length === 0) return [];
  const out: number[] = [];
  for (const part of v.split(',')) {
    const n = Number.parseInt(part, 36);
    if (!Number.isFinite(n)) continue;
    out.push(out.length === 0 ? n : out[out.length - 1]! + n);
  }
  return out;
}

export class DynamoBudgetStore implements BudgetStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  async load(key: string): Promise<{ state: BudgetState; version: number }> {
    const r = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: keys.budgetPk(key), sk: keys.budgetSk },
        ConsistentRead: true,
      }),
    );
    const it = r.Item;
    if (!it) return { state: { calls: [], blockedUntil: 0 }, version: 0 };
    return {
      state: {
        calls: decodeCalls(it.calls),
        blockedUntil: Number(it.blockedUntil ?? 0),
        learnedLimit: it.learnedLimit === undefined ? undefined : Number(it.learnedLimit),
        learnedWindowMs: it.learnedWindowMs === undefined ? undefined : Number(it.learnedWindowMs),
      },
      version: Number(it.v ?? 0),
    };
  }

  async save(key: string, state: BudgetState, expected: number): Promise<boolean> {
    const last = Math.max(state.blockedUntil, ...state.calls, 0);
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: keys.budgetPk(key),
            sk: keys.budgetSk,
            calls: encodeCalls(state.calls),
            blockedUntil: state.blockedUntil,
            learnedLimit: state.learnedLimit,
            learnedWindowMs: state.learnedWindowMs,
            v: expected + 1,
            expiresAt: toEpochSeconds(last + BUDGET_TTL_MS),
          },
          ...versionCondition(expected),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }
}

// ---------------------------------------------------------------- ledger

type Stored = { item: LedgerItem; version: number };

const LEDGER_FIELDS = [
  'userId',
  'feed',
  'id',
  'status',
  'wantRev',
  'syncedRev',
  'summaryHash',
  'startTime',
  'contentHash',
  'key',
  'versionId',
  'attempts',
  'lastError',
  'enqueuedAt',
  'notBefore',
  'updatedAt',
  'syncedAt',
  'deletedAt',
] as const satisfies readonly (keyof LedgerItem)[];

function fromRecord(r: Record<string, unknown>): Stored {
  const item: Record<string, unknown> = {};
  for (const f of LEDGER_FIELDS) if (r[f] !== undefined) item[f] = r[f];
  return { item: item as unknown as LedgerItem, version: Number(r.v ?? 0) };
}

function toRecord(it: LedgerItem, version: number): Record<string, unknown> {
  const rec: Record<string, unknown> = {
    pk: keys.userPk(it.userId),
    sk: keys.itemSk(it.feed, it.id),
    v: version,
  };
  for (const f of LEDGER_FIELDS) if (it[f] !== undefined) rec[f] = it[f];
  // Sparse work index: present only while the item may need a fetch.
  if (it.status === 'PENDING' || it.status === 'ENQUEUED') {
    rec.workPk = keys.workPk(it.userId);
    rec.workSk = `${startSortKey(it.startTime)}#${it.feed}#${it.id}`;
  }
  return rec;
}

export class DynamoLedger extends TransitionLedger {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  constructor(db: DynamoDBDocumentClient, tableName: string) {
    super();
    this.#db = db;
    this.#table = tableName;
  }

  async #read(userId: string, feed: string, id: string): Promise<Stored | undefined> {
    const r = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: keys.userPk(userId), sk: keys.itemSk(feed, id) },
        ConsistentRead: true,
      }),
    );
    return r.Item ? fromRecord(r.Item) : undefined;
  }

  /** Conditional put of `next` over the version read; false on a lost race. */
  async #write(next: LedgerItem, expected: number): Promise<boolean> {
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: toRecord(next, expected + 1),
          ...versionCondition(expected),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  /** get → transition → conditional put, retried on conflict. Returns the written item. */
  async #mutate(
    userId: string,
    feed: string,
    id: string,
    fn: (cur: LedgerItem | undefined) => LedgerItem | undefined,
    /** The state already read (item undefined = known absent); read afresh when omitted. */
    first?: { item: LedgerItem | undefined; version: number },
  ): Promise<LedgerItem | undefined> {
    let cur: { item: LedgerItem | undefined; version: number } | undefined = first;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      if (cur === undefined || attempt > 0) cur = await this.#read(userId, feed, id);
      const next = fn(cur?.item);
      if (!next) return undefined;
      if (await this.#write(next, cur?.version ?? 0)) return next;
    }
    throw new Error('ledger: too many concurrent updates of one item');
  }

  protected async apply(
    userId: string,
    feed: FeedName,
    id: string,
    fn: Transition,
  ): Promise<boolean> {
    return (await this.#mutate(userId, feed, id, fn)) !== undefined;
  }

  async get(userId: string, feed: FeedName, id: string): Promise<LedgerItem | undefined> {
    return (await this.#read(userId, feed, id))?.item;
  }

  async observe(userId: string, items: ObservedItem[], now: number): Promise<ObserveResult> {
    const r: ObserveResult = { added: 0, changed: 0, unchanged: 0 };
    const known = await this.#batchRead(userId, items);
    for (const o of items) {
      const k = keys.itemSk(o.feed, o.id);
      const first = known.get(k);
      let kind: 'added' | 'changed' | undefined;
      const written = await this.#mutate(
        userId,
        o.feed,
        o.id,
        (cur) => {
          const res = observeItem(userId, cur, o, now);
          kind = res?.kind;
          return res?.next;
        },
        // Not in the batch read: known absent (version 0); a conflict re-reads.
        first ?? { item: undefined, version: 0 },
      );
      if (written && kind) {
        r[kind]++;
        const prev = known.get(k);
        known.set(k, { item: written, version: (prev?.version ?? 0) + 1 });
      } else r.unchanged++;
    }
    return r;
  }

  /** Reads many ledger items with BatchGetItem (100 keys per request, consistent). */
  async #batchRead(userId: string, items: ObservedItem[]): Promise<Map<string, Stored>> {
    const out = new Map<string, Stored>();
    const sks = [...new Set(items.map((o) => keys.itemSk(o.feed, o.id)))];
    for (let i = 0; i < sks.length; i += 100) {
      let req: Record<string, unknown>[] = sks
        .slice(i, i + 100)
        .map((sk) => ({ pk: keys.userPk(userId), sk }));
      for (let round = 0; round < 20 && req.length > 0; round++) {
        const res = await this.#db.send(
          new BatchGetCommand({
            RequestItems: { [this.#table]: { Keys: req, ConsistentRead: true } },
          }),
        );
        for (const rec of res.Responses?.[this.#table] ?? []) {
          out.set(String(rec.sk), fromRecord(rec));
        }
        req = (res.UnprocessedKeys?.[this.#table]?.Keys as Record<string, unknown>[]) ?? [];
        if (req.length > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** round));
      }
      if (req.length > 0) throw new Error('ledger: BatchGetItem left keys unprocessed');
    }
    return out;
  }

  async pick(userId: string, now: number, limit: number, leaseMs: number): Promise<LedgerItem[]> {
    if (limit <= 0) return [];
    const out: LedgerItem[] = [];
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const input: QueryCommandInput = {
        TableName: this.#table,
        IndexName: GSI_BY_WORK,
        KeyConditionExpression: 'workPk = :w',
        FilterExpression:
          '(#st = :p AND (attribute_not_exists(notBefore) OR notBefore <= :now)) OR ' +
          '(#st = :e AND (attribute_not_exists(enqueuedAt) OR enqueuedAt <= :cut))',
        ExpressionAttributeNames: { '#st': 'status' },
        ExpressionAttributeValues: {
          ':w': keys.workPk(userId),
          ':p': 'PENDING',
          ':e': 'ENQUEUED',
          ':now': now,
          ':cut': now - leaseMs,
        },
        ScanIndexForward: false,
        ...(start ? { ExclusiveStartKey: start } : {}),
      };
      const res = await this.#db.send(new QueryCommand(input));
      for (const rec of res.Items ?? []) {
        const { item } = fromRecord(rec);
        if (isPickable(item, now, leaseMs)) out.push(item);
      }
      start = res.LastEvaluatedKey;
      if (!start || out.length >= limit) break;
    }
    return out.sort(pickOrder).slice(0, limit);
  }

  async #queryItems(
    userId: string,
    projection?: { expr: string; names?: Record<string, string> },
  ): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :item)',
          ExpressionAttributeValues: { ':pk': keys.userPk(userId), ':item': keys.itemPrefix },
          ConsistentRead: true,
          ...(projection
            ? {
                ProjectionExpression: projection.expr,
                ...(projection.names ? { ExpressionAttributeNames: projection.names } : {}),
              }
            : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      out.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
      if (!start) break;
    }
    return out;
  }

  async counts(userId: string): Promise<LedgerCounts> {
    const c: LedgerCounts = { PENDING: 0, ENQUEUED: 0, SYNCED: 0, DELETED: 0, FAILED: 0 };
    const rows = await this.#queryItems(userId, { expr: '#st', names: { '#st': 'status' } });
    for (const r of rows) {
      const s = r.status as ItemStatus;
      if (s in c) c[s]++;
    }
    return c;
  }

  async list(userId: string, status?: ItemStatus): Promise<LedgerItem[]> {
    return (await this.#queryItems(userId))
      .map((r) => fromRecord(r).item)
      .filter((it) => !status || it.status === status);
  }

  /** Removes every ledger item of a user (de-authorisation with onRevoke=delete). */
  async deleteUser(userId: string): Promise<number> {
    const rows = await this.#queryItems(userId, { expr: 'pk, sk' });
    for (const r of rows) {
      await this.#db.send(
        new DeleteCommand({ TableName: this.#table, Key: { pk: r.pk, sk: r.sk } }),
      );
    }
    return rows.length;
  }
}

// ---------------------------------------------------------------- accounts

export class DynamoAccountStore implements AccountStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  #parse(rec: Record<string, unknown>): Account {
    const data = JSON.parse(String(rec.data)) as Omit<Account, 'version'>;
    return { ...data, version: Number(rec.v ?? 0) };
  }

  async get(userId: string): Promise<Account | undefined> {
    const r = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: keys.accountsPk, sk: keys.accountSk(userId) },
        ConsistentRead: true,
      }),
    );
    return r.Item ? this.#parse(r.Item) : undefined;
  }

  async list(): Promise<Account[]> {
    const out: Account[] = [];
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.accountsPk },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const rec of res.Items ?? []) out.push(this.#parse(rec));
      start = res.LastEvaluatedKey;
      if (!start) break;
    }
    return out;
  }

  async save(account: Account): Promise<boolean> {
    const { version, ...data } = account;
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: keys.accountsPk,
            sk: keys.accountSk(account.userId),
            userId: account.userId,
            status: account.status,
            data: JSON.stringify(data),
            v: version + 1,
          },
          ...versionCondition(version),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  async delete(userId: string): Promise<void> {
    await this.#db.send(
      new DeleteCommand({
        TableName: this.#table,
        Key: { pk: keys.accountsPk, sk: keys.accountSk(userId) },
      }),
    );
  }
}

// OAuth state, invites and the owner item live in ./auth-state.ts.
export { DynamoAuthStateStore } from './auth-state.ts';
