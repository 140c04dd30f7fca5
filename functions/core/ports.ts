/**
 * Ports: the interfaces the core depends on. Adapters implement them for AWS
 * (functions/adapters/aws), one machine (functions/adapters/local) and tests
 * (functions/adapters/memory). Nothing here knows about Lambda, AWS or files.
 */
import type { CallBudget } from './budget.ts';
import type { Clock } from './clock.ts';
import type { FeedName } from './keys.ts';

// ---------------------------------------------------------------- ledger

export type ItemStatus = 'PENDING' | 'ENQUEUED' | 'SYNCED' | 'DELETED' | 'FAILED';

export interface LedgerItem {
  userId: string;
  feed: FeedName;
  id: string;
  status: ItemStatus;
  /** Bumped every time the item needs (re)fetching; queue messages carry it. */
  wantRev: number;
  /** The `wantRev` that was last stored successfully (0 = never). */
  syncedRev: number;
  /** Hash of the last feed/change-log entry seen for the item (change detection). */
  summaryHash?: string | undefined;
  /** Local start time of the item, as the API gives it (ordering, status display). */
  startTime?: string | undefined;
  /** sha256 (hex) of the stored raw document. */
  contentHash?: string | undefined;
  /** Storage key and, where the store versions objects, the version id. */
  key?: string | undefined;
  versionId?: string | undefined;
  /** Fetch attempts that failed since the last success. */
  attempts: number;
  lastError?: string | undefined;
  /** When ENQUEUED: the lease start; a lease older than the lease time is a lost message. */
  enqueuedAt?: number | undefined;
  /** Do not fetch before (live activities, back-off after failures). */
  notBefore?: number | undefined;
  updatedAt: number;
  syncedAt?: number | undefined;
  deletedAt?: number | undefined;
}

export interface ObservedItem {
  feed: FeedName;
  id: string;
  summaryHash: string;
  startTime?: string | undefined;
  /** Fetch again even when the summary hash did not change (the change log says it changed). */
  force?: boolean | undefined;
}

export interface ObserveResult {
  added: number;
  changed: number;
  unchanged: number;
}

export interface SyncedUpdate {
  rev: number;
  contentHash: string;
  key: string;
  versionId?: string | undefined;
}

export type LedgerCounts = Record<ItemStatus, number>;

export interface Ledger {
  get(userId: string, feed: FeedName, id: string): Promise<LedgerItem | undefined>;
  /** Upsert discovered items: new → PENDING; changed (hash differs or force) → PENDING with wantRev+1;
   *  a DELETED item that reappears → PENDING. Unchanged items are not written. */
  observe(userId: string, items: ObservedItem[], now: number): Promise<ObserveResult>;
  /** Tombstone; bytes already stored are kept. Returns false when it was already DELETED or unknown. */
  markDeleted(userId: string, feed: FeedName, id: string, now: number): Promise<boolean>;
  /** Items to enqueue: PENDING (notBefore ≤ now) and ENQUEUED with a lease older than `leaseMs`; newest start first. */
  pick(userId: string, now: number, limit: number, leaseMs: number): Promise<LedgerItem[]>;
  /** PENDING (or ENQUEUED with an expired lease) → ENQUEUED, only if wantRev is still `rev`. */
  markEnqueued(
    userId: string,
    feed: FeedName,
    id: string,
    rev: number,
    now: number,
    leaseMs: number,
  ): Promise<boolean>;
  /** → SYNCED, only if the stored syncedRev is older than `u.rev` and the item is not DELETED. */
  markSynced(
    userId: string,
    feed: FeedName,
    id: string,
    u: SyncedUpdate,
    now: number,
  ): Promise<boolean>;
  /** → FAILED with a reason (permanent), or stays PENDING with notBefore (retryable). */
  markFailed(
    userId: string,
    feed: FeedName,
    id: string,
    f: { reason: string; permanent: boolean; notBefore?: number | undefined },
    now: number,
  ): Promise<void>;
  counts(userId: string): Promise<LedgerCounts>;
  list(userId: string, status?: ItemStatus): Promise<LedgerItem[]>;
}

// ---------------------------------------------------------------- accounts and cursors

export interface FeedCursor {
  /** The next page URI to request (relative), or null when the listing is complete. */
  next: string | null;
  done: boolean;
  /** `size` reported by the last page, and distinct items seen in this pass. */
  size?: number | undefined;
  seen: number;
  /** Number of complete listing passes so far. */
  passes: number;
  startedAt: number;
}

export interface Account {
  userId: string;
  status: 'ACTIVE' | 'REVOKED';
  linkedAt: number;
  revokedAt?: number | undefined;
  /** The `/user` resource map, already validated (relative paths). */
  resources: Record<string, string>;
  discoveredAt: number;
  /** When profile, settings and records were last stored. */
  docsFetchedAt?: number | undefined;
  cursors: Partial<Record<FeedName, FeedCursor>>;
  /** Epoch ms up to which changes are known (start of the last successful change-log query). */
  watermark?: number | undefined;
  lastRunAt?: number | undefined;
  lastRun?: Record<string, number | string> | undefined;
  /** AWS: when activities.csv/.ndjson and manifest.json were last assembled. */
  indexBuiltAt?: number | undefined;
  /** AWS: set when a run enqueued or deleted something the index does not show yet. */
  indexDirtyAt?: number | undefined;
  /** Optimistic-concurrency version, managed by the store. */
  version: number;
}

export interface AccountStore {
  get(userId: string): Promise<Account | undefined>;
  list(): Promise<Account[]>;
  /** Create or update; when `account.version` no longer matches the stored one, returns false. */
  save(account: Account): Promise<boolean>;
  delete(userId: string): Promise<void>;
}

// ---------------------------------------------------------------- secrets and OAuth state

export interface TokenStore {
  get(userId: string): Promise<string | undefined>;
  put(userId: string, token: string): Promise<void>;
  delete(userId: string): Promise<void>;
}

export interface PendingAuth {
  /** sha256 of the state value (the value itself is never stored). */
  stateHash: string;
  /** sha256 of the browser-binding cookie value. */
  cookieHash: string;
  expiresAt: number;
  /** Why the flow was allowed. Every link now needs an owner-minted invite ('first-link'
   *  is only read from records written before that rule and is refused). */
  purpose: 'first-link' | 'invite';
  /** The invite that allowed the flow: spent at the callback, not on the first GET. */
  inviteHash?: string | undefined;
}

export interface Invite {
  expiresAt: number;
  /** Only this Runkeeper user may link with it (the owner, once one is recorded). */
  userId?: string | undefined;
}

export interface AuthStateStore {
  create(p: PendingAuth): Promise<void>;
  /** Delete-if-exists (conditional): returns the record once; a replay gets undefined. */
  consume(stateHash: string): Promise<PendingAuth | undefined>;
  /** Owner-minted one-time link tokens (hashed), optionally bound to the owner's user id. */
  createInvite(inviteHash: string, expiresAt: number, userId?: string): Promise<void>;
  /** The invite if it exists and has not expired; does not spend it (a link preview can GET). */
  peekInvite(inviteHash: string, now: number): Promise<Invite | undefined>;
  /** Spend it (conditional delete): true exactly once, and only before it expires. */
  consumeInvite(inviteHash: string, now: number): Promise<boolean>;
  /** The fixed owner item: one conditional write decides who owns the deployment. True when
   *  `userId` now owns it (it was free, or already theirs); false when someone else does. */
  claimOwner(userId: string, now: number): Promise<boolean>;
  owner(): Promise<string | undefined>;
  /** Free the owner item if `userId` holds it (unlink). */
  releaseOwner(userId: string): Promise<void>;
}

// ---------------------------------------------------------------- storage and queue

export interface PutResult {
  versionId?: string | undefined;
  /** False when the stored bytes were already identical and nothing was written. */
  written: boolean;
}

export interface ObjectStore {
  put(key: string, body: Uint8Array, contentType: string): Promise<PutResult>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** sha256 (hex) of the current object if known. */
  hash(key: string): Promise<string | undefined>;
  list(prefix: string): AsyncIterable<string>;
  /** Size and sha256 in one metadata read, where the store can (the manifest then needs no GET). */
  stat?(key: string): Promise<{ size: number; sha256?: string | undefined } | undefined>;
}

export interface FetchMessage {
  userId: string;
  feed: FeedName;
  id: string;
  rev: number;
  /** Deferrals because of budget (informational). */
  deferrals?: number | undefined;
}

export interface WorkQueue {
  send(messages: { body: FetchMessage; delaySeconds: number }[]): Promise<void>;
}

// ---------------------------------------------------------------- logging

export interface Log {
  debug(msg: string, extra?: Record<string, unknown>): void;
  info(msg: string, extra?: Record<string, unknown>): void;
  warn(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** Everything the sync core needs, wired by a composition root (Lambda or CLI). */
export interface SyncDeps {
  clock: Clock;
  budget: CallBudget;
  ledger: Ledger;
  accounts: AccountStore;
  tokens: TokenStore;
  store: ObjectStore;
  queue: WorkQueue;
  log: Log;
}
