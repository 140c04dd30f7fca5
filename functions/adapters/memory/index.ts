/**
 * In-memory adapters for every port: unit tests, the discrete-event simulation and the
 * benchmark. They implement the same compare-and-swap semantics as the durable adapters.
 */

import { sha256Hex } from '../../core/hash.ts';
import type { FeedName } from '../../core/keys.ts';
import type {
  Account,
  AccountStore,
  AuthStateStore,
  FetchMessage,
  Invite,
  ItemStatus,
  LedgerCounts,
  LedgerItem,
  ObjectStore,
  ObservedItem,
  ObserveResult,
  PendingAuth,
  PutResult,
  TokenStore,
  WorkQueue,
} from '../../core/ports.ts';
import { isPickable, observeItem, pickOrder } from '../../core/sync/ledger-rules.ts';
import { type Transition, TransitionLedger } from '../../core/sync/transition-ledger.ts';

const k = (userId: string, feed: string, id: string) => `${userId}|${feed}|${id}`;

export function emptyCounts(): LedgerCounts {
  return { PENDING: 0, ENQUEUED: 0, SYNCED: 0, DELETED: 0, FAILED: 0 };
}

export class MemoryLedger extends TransitionLedger {
  readonly items = new Map<string, LedgerItem>();
  /** Count of write operations (benchmarks: requests per idle run). */
  writes = 0;
  reads = 0;

  async get(userId: string, feed: FeedName, id: string) {
    this.reads++;
    const it = this.items.get(k(userId, feed, id));
    return it ? structuredClone(it) : undefined;
  }
  #put(it: LedgerItem) {
    this.writes++;
    this.items.set(k(it.userId, it.feed, it.id), structuredClone(it));
  }
  async observe(userId: string, items: ObservedItem[], now: number): Promise<ObserveResult> {
    const r: ObserveResult = { added: 0, changed: 0, unchanged: 0 };
    this.reads++;
    for (const o of items) {
      const res = observeItem(userId, this.items.get(k(userId, o.feed, o.id)), o, now);
      if (!res) r.unchanged++;
      else {
        r[res.kind]++;
        this.#put(res.next);
      }
    }
    return r;
  }
  protected async apply(userId: string, feed: FeedName, id: string, fn: Transition) {
    const next = fn(this.items.get(k(userId, feed, id)));
    if (next) this.#put(next);
    return next !== undefined;
  }
  async pick(userId: string, now: number, limit: number, leaseMs: number) {
    this.reads++;
    return [...this.items.values()]
      .filter((it) => it.userId === userId && isPickable(it, now, leaseMs))
      .sort(pickOrder)
      .slice(0, Math.max(0, limit))
      .map((it) => structuredClone(it));
  }
  async counts(userId: string) {
    this.reads++;
    const c = emptyCounts();
    for (const it of this.items.values()) if (it.userId === userId) c[it.status]++;
    return c;
  }
  async list(userId: string, status?: ItemStatus) {
    this.reads++;
    return [...this.items.values()]
      .filter((it) => it.userId === userId && (!status || it.status === status))
      .map((it) => structuredClone(it));
  }
}

export class MemoryAccountStore implements AccountStore {
  readonly accounts = new Map<string, Account>();
  writes = 0;
  async get(userId: string) {
    const a = this.accounts.get(userId);
    return a ? structuredClone(a) : undefined;
  }
  async list() {
    return [...this.accounts.values()].map((a) => structuredClone(a));
  }
  async save(account: Account) {
    const cur = this.accounts.get(account.userId);
    if ((cur?.version ?? 0) !== account.version) return false;
    this.writes++;
    this.accounts.set(account.userId, {
      ...structuredClone(account),
      version: account.version + 1,
    });
    return true;
  }
  async delete(userId: string) {
    this.accounts.delete(userId);
  }
}

export class MemoryTokenStore implements TokenStore {
  readonly tokens = new Map<string, string>();
  async get(userId: string) {
    return this.tokens.get(userId);
  }
  async put(userId: string, token: string) {
    this.tokens.set(userId, token);
  }
  async delete(userId: string) {
    this.tokens.delete(userId);
  }
}

export class MemoryAuthStateStore implements AuthStateStore {
  readonly states = new Map<string, PendingAuth>();
  readonly invites = new Map<string, Invite>();
  ownerId: string | undefined;
  async create(p: PendingAuth) {
    this.states.set(p.stateHash, { ...p });
  }
  async consume(stateHash: string) {
    const p = this.states.get(stateHash);
    if (!p) return undefined;
    this.states.delete(stateHash);
    return p;
  }
  async createInvite(inviteHash: string, expiresAt: number, userId?: string) {
    this.invites.set(inviteHash, { expiresAt, ...(userId !== undefined ? { userId } : {}) });
  }
  async peekInvite(inviteHash: string, now: number) {
    const inv = this.invites.get(inviteHash);
    return inv && inv.expiresAt > now ? { ...inv } : undefined;
  }
  async consumeInvite(inviteHash: string, now: number) {
    const inv = this.invites.get(inviteHash);
    if (inv === undefined) return false;
    this.invites.delete(inviteHash);
    return inv.expiresAt > now;
  }
  async claimOwner(userId: string) {
    this.ownerId ??= userId;
    return this.ownerId === userId;
  }
  async owner() {
    return this.ownerId;
  }
  async releaseOwner(userId: string) {
    if (this.ownerId === userId) this.ownerId = undefined;
  }
}

export class MemoryObjectStore implements ObjectStore {
  /** Every version ever written, newest last (the bucket is versioned). */
  readonly versions = new Map<
    string,
    { body: Uint8Array; contentType: string; sha256: string; versionId: string }[]
  >();
  puts = 0;
  #seq = 0;
  async put(key: string, body: Uint8Array, contentType: string): Promise<PutResult> {
    const sha = sha256Hex(body);
    const list = this.versions.get(key) ?? [];
    const last = list.at(-1);
    if (last && last.sha256 === sha) return { written: false, versionId: last.versionId };
    this.puts++;
    const versionId = `v${++this.#seq}`;
    list.push({ body: body.slice(), contentType, sha256: sha, versionId });
    this.versions.set(key, list);
    return { written: true, versionId };
  }
  async get(key: string) {
    return this.versions.get(key)?.at(-1)?.body.slice();
  }
  async hash(key: string) {
    return this.versions.get(key)?.at(-1)?.sha256;
  }
  async *list(prefix: string) {
    for (const key of [...this.versions.keys()].sort()) if (key.startsWith(prefix)) yield key;
  }
}

export interface QueuedMessage {
  body: FetchMessage;
  due: number;
  receives: number;
  seq: number;
}

/**
 * A delayed queue in memory: messages become visible at `due`. The local runner and the
 * simulation receive the earliest due message; `dead` holds messages that failed too often.
 */
export class MemoryQueue implements WorkQueue {
  readonly pending: QueuedMessage[] = [];
  readonly dead: { body: FetchMessage; reason: string }[] = [];
  sent = 0;
  #seq = 0;
  readonly #now: () => number;
  constructor(now: () => number) {
    this.#now = now;
  }
  async send(messages: { body: FetchMessage; delaySeconds: number }[]) {
    for (const m of messages) {
      this.sent++;
      this.pending.push({
        body: structuredClone(m.body),
        due: this.#now() + Math.min(900, Math.max(0, m.delaySeconds)) * 1000,
        receives: 0,
        seq: ++this.#seq,
      });
    }
  }
  retry(m: { body: FetchMessage; receives: number }, delaySeconds: number) {
    this.pending.push({
      body: m.body,
      due: this.#now() + Math.min(900, Math.max(0, delaySeconds)) * 1000,
      receives: m.receives,
      seq: ++this.#seq,
    });
  }
  /** The earliest due message (not removed), or undefined. */
  peek(): QueuedMessage | undefined {
    let best: QueuedMessage | undefined;
    for (const m of this.pending)
      if (!best || m.due < best.due || (m.due === best.due && m.seq < best.seq)) best = m;
    return best;
  }
  remove(m: QueuedMessage) {
    const i = this.pending.indexOf(m);
    if (i >= 0) this.pending.splice(i, 1);
  }
  get size() {
    return this.pending.length;
  }
}
