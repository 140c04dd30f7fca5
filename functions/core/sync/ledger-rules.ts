/**
 * The ledger's state machine as pure functions. Every Ledger adapter (memory, SQLite,
 * DynamoDB) reads an item, applies one of these, and writes the result back only if the
 * item did not change in between (compare-and-swap on `version`). A function returning
 * `undefined` means "no write" (the transition does not apply), which keeps idle runs free
 * of writes and makes redelivered messages harmless.
 *
 *   (new) ─observe→ PENDING ─markEnqueued→ ENQUEUED ─markSynced→ SYNCED
 *                     ↑   ↖──── lease expired (lost message) ───┘    │
 *                     └──────── observe (changed: wantRev+1) ─────────┘
 *   any ─markDeleted→ DELETED (tombstone; bytes kept) ─observe (reappears)→ PENDING
 *   ENQUEUED/PENDING ─markFailed(permanent)→ FAILED ─observe (changed)→ PENDING
 */
import type { LedgerItem, ObservedItem, SyncedUpdate } from '../ports.ts';

export type Versioned<T> = T & { version: number };

export function observeItem(
  userId: string,
  cur: LedgerItem | undefined,
  o: ObservedItem,
  now: number,
): { next: LedgerItem; kind: 'added' | 'changed' } | undefined {
  if (!cur) {
    return {
      kind: 'added',
      next: {
        userId,
        feed: o.feed,
        id: o.id,
        status: 'PENDING',
        wantRev: 1,
        syncedRev: 0,
        summaryHash: o.summaryHash,
        startTime: o.startTime,
        attempts: 0,
        updatedAt: now,
      },
    };
  }
  const changed = o.force === true || cur.summaryHash !== o.summaryHash || cur.status === 'DELETED';
  if (!changed) return undefined;
  // PENDING and not yet sent: the coming fetch will see the latest document anyway.
  // ENQUEUED: a fetch may already be in flight with the old document, so bump wantRev; the
  // in-flight message then syncs an older rev and the item returns to PENDING.
  const pendingUnsent = cur.status === 'PENDING' && cur.wantRev > cur.syncedRev;
  return {
    kind: 'changed',
    next: {
      ...cur,
      status: cur.status === 'ENQUEUED' ? 'ENQUEUED' : 'PENDING',
      wantRev: pendingUnsent ? cur.wantRev : cur.wantRev + 1,
      summaryHash: o.summaryHash,
      startTime: o.startTime ?? cur.startTime,
      attempts: 0,
      lastError: undefined,
      notBefore: undefined,
      deletedAt: undefined,
      updatedAt: now,
    },
  };
}

export function deleteItem(cur: LedgerItem | undefined, now: number): LedgerItem | undefined {
  if (!cur || cur.status === 'DELETED') return undefined;
  return { ...cur, status: 'DELETED', deletedAt: now, enqueuedAt: undefined, updatedAt: now };
}

export function isPickable(it: LedgerItem, now: number, leaseMs: number): boolean {
  if (it.status === 'PENDING') return (it.notBefore ?? 0) <= now;
  if (it.status === 'ENQUEUED') return (it.enqueuedAt ?? 0) <= now - leaseMs;
  return false;
}

/** Newest start first; items without a start time last; then by id for determinism. */
export function pickOrder(a: LedgerItem, b: LedgerItem): number {
  const ta = startKey(a.startTime);
  const tb = startKey(b.startTime);
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/** Sortable number for a Health Graph local time ("Tue, 5 Mar 2024 07:15:00"); 0 when unknown. */
export function startKey(s: string | undefined): number {
  if (!s) return 0;
  const m = /(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})/.exec(s);
  if (!m) return 0;
  return Date.UTC(
    Number(m[3]),
    MONTHS[m[2]!] ?? 0,
    Number(m[1]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
  );
}

/** Sortable string form of the same (used as a DynamoDB/SQLite sort key). */
export function startSortKey(s: string | undefined): string {
  return String(startKey(s)).padStart(15, '0');
}

export function enqueueItem(
  cur: LedgerItem | undefined,
  rev: number,
  now: number,
  leaseMs: number,
): LedgerItem | undefined {
  if (!cur || cur.wantRev !== rev || !isPickable(cur, now, leaseMs)) return undefined;
  return { ...cur, status: 'ENQUEUED', enqueuedAt: now, updatedAt: now };
}

export function syncItem(
  cur: LedgerItem | undefined,
  u: SyncedUpdate,
  now: number,
): LedgerItem | undefined {
  if (!cur || cur.status === 'DELETED' || cur.syncedRev >= u.rev) return undefined;
  const done = u.rev >= cur.wantRev;
  return {
    ...cur,
    status: done ? 'SYNCED' : 'PENDING',
    syncedRev: u.rev,
    contentHash: u.contentHash,
    key: u.key,
    versionId: u.versionId,
    attempts: 0,
    lastError: undefined,
    notBefore: undefined,
    enqueuedAt: done ? undefined : cur.enqueuedAt,
    syncedAt: now,
    updatedAt: now,
  };
}

export function failItem(
  cur: LedgerItem | undefined,
  f: { reason: string; permanent: boolean; notBefore?: number | undefined },
  now: number,
): LedgerItem | undefined {
  if (!cur || cur.status === 'DELETED' || cur.status === 'SYNCED') return undefined;
  return {
    ...cur,
    status: f.permanent ? 'FAILED' : 'PENDING',
    attempts: cur.attempts + 1,
    lastError: f.reason.slice(0, 500),
    notBefore: f.permanent ? undefined : f.notBefore,
    enqueuedAt: undefined,
    updatedAt: now,
  };
}
