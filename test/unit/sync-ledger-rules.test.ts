/**
 * The ledger's pure transitions, each checked as a whole object (every field a transition
 * sets or clears), so a mutant that drops or alters one field is caught here and not only by
 * chance in an end-to-end run. Written for the surviving mutants of `npm run mutate:fast`.
 */
import { describe, expect, it } from 'vitest';
import type { LedgerItem } from '../../functions/core/ports.ts';
import {
  deleteItem,
  enqueueItem,
  failItem,
  isPickable,
  observeItem,
  pickOrder,
  startKey,
  startSortKey,
  syncItem,
} from '../../functions/core/sync/ledger-rules.ts';

const T = 1_700_000_000_000;
const base: LedgerItem = {
  userId: '9',
  feed: 'fitnessActivities',
  id: '42',
  status: 'PENDING',
  wantRev: 1,
  syncedRev: 0,
  summaryHash: 'h1',
  startTime: 'Tue, 5 Mar 2024 07:15:00',
  attempts: 0,
  updatedAt: T,
};
const item = (over: Partial<LedgerItem>): LedgerItem => ({ ...base, ...over });

describe('observeItem', () => {
  it('a new item is PENDING at revision 1 with nothing synced', () => {
    expect(
      observeItem(
        '9',
        undefined,
        { feed: 'fitnessActivities', id: '42', summaryHash: 'h1', startTime: 's' },
        T,
      ),
    ).toEqual({
      kind: 'added',
      next: {
        userId: '9',
        feed: 'fitnessActivities',
        id: '42',
        status: 'PENDING',
        wantRev: 1,
        syncedRev: 0,
        summaryHash: 'h1',
        startTime: 's',
        attempts: 0,
        updatedAt: T,
      },
    });
  });

  it('unchanged summary: no write; forced or changed: a new wanted revision, errors and backoff cleared', () => {
    const synced = item({ status: 'SYNCED', wantRev: 2, syncedRev: 2 });
    expect(
      observeItem('9', synced, { feed: 'fitnessActivities', id: '42', summaryHash: 'h1' }, T),
    ).toBeUndefined();
    const failed = item({
      status: 'SYNCED',
      wantRev: 2,
      syncedRev: 2,
      attempts: 3,
      lastError: 'x',
      notBefore: T + 5,
      deletedAt: T - 1,
    });
    const r = observeItem(
      '9',
      failed,
      { feed: 'fitnessActivities', id: '42', summaryHash: 'h2' },
      T + 1,
    );
    expect(r).toEqual({
      kind: 'changed',
      next: {
        ...failed,
        status: 'PENDING',
        wantRev: 3,
        summaryHash: 'h2',
        startTime: base.startTime,
        attempts: 0,
        lastError: undefined,
        notBefore: undefined,
        deletedAt: undefined,
        updatedAt: T + 1,
      },
    });
    const forced = observeItem(
      '9',
      synced,
      { feed: 'fitnessActivities', id: '42', summaryHash: 'h1', force: true },
      T,
    );
    expect(forced?.next.wantRev).toBe(3);
  });

  it('a pending unsent item keeps its wanted revision; an enqueued one stays ENQUEUED with a bumped revision', () => {
    const pending = item({ status: 'PENDING', wantRev: 2, syncedRev: 1 });
    expect(
      observeItem('9', pending, { feed: 'fitnessActivities', id: '42', summaryHash: 'h9' }, T)
        ?.next,
    ).toMatchObject({
      status: 'PENDING',
      wantRev: 2,
    });
    // PENDING but nothing wanted beyond what is synced (e.g. after a retryable failure of a synced rev).
    const caughtUp = item({ status: 'PENDING', wantRev: 1, syncedRev: 1 });
    expect(
      observeItem('9', caughtUp, { feed: 'fitnessActivities', id: '42', summaryHash: 'h9' }, T)
        ?.next.wantRev,
    ).toBe(2);
    const enq = item({ status: 'ENQUEUED', wantRev: 1, syncedRev: 0, enqueuedAt: T - 10 });
    expect(
      observeItem('9', enq, { feed: 'fitnessActivities', id: '42', summaryHash: 'h9' }, T)?.next,
    ).toMatchObject({
      status: 'ENQUEUED',
      wantRev: 2,
    });
  });

  it('a deleted item that reappears is PENDING again, even with the same summary', () => {
    const del = item({ status: 'DELETED', wantRev: 1, syncedRev: 1, deletedAt: T - 5 });
    const r = observeItem('9', del, { feed: 'fitnessActivities', id: '42', summaryHash: 'h1' }, T);
    expect(r?.kind).toBe('changed');
    expect(r?.next).toMatchObject({ status: 'PENDING', wantRev: 2, deletedAt: undefined });
  });
});

describe('deleteItem, enqueueItem, syncItem, failItem', () => {
  it('delete: a tombstone with its time, the lease dropped; twice is no write', () => {
    const enq = item({ status: 'ENQUEUED', enqueuedAt: T - 3 });
    expect(deleteItem(enq, T)).toEqual({
      ...enq,
      status: 'DELETED',
      deletedAt: T,
      enqueuedAt: undefined,
      updatedAt: T,
    });
    expect(deleteItem(item({ status: 'DELETED' }), T)).toBeUndefined();
    expect(deleteItem(undefined, T)).toBeUndefined();
  });

  it('pickable: PENDING once its backoff is over, ENQUEUED once its lease expired, nothing else', () => {
    expect(isPickable(item({ status: 'PENDING' }), T, 100)).toBe(true);
    expect(isPickable(item({ status: 'PENDING', notBefore: T }), T, 100)).toBe(true);
    expect(isPickable(item({ status: 'PENDING', notBefore: T + 1 }), T, 100)).toBe(false);
    expect(isPickable(item({ status: 'ENQUEUED', enqueuedAt: T - 100 }), T, 100)).toBe(true);
    expect(isPickable(item({ status: 'ENQUEUED', enqueuedAt: T - 99 }), T, 100)).toBe(false);
    expect(isPickable(item({ status: 'ENQUEUED' }), T, 100)).toBe(true);
    for (const status of ['SYNCED', 'DELETED', 'FAILED'] as const) {
      expect(isPickable(item({ status }), T, 0)).toBe(false);
    }
  });

  it('enqueue: only the wanted revision of a pickable item', () => {
    expect(enqueueItem(item({}), 1, T, 0)).toEqual({
      ...base,
      status: 'ENQUEUED',
      enqueuedAt: T,
      updatedAt: T,
    });
    expect(enqueueItem(item({}), 2, T, 0)).toBeUndefined();
    expect(enqueueItem(item({ notBefore: T + 1 }), 1, T, 0)).toBeUndefined();
    expect(enqueueItem(undefined, 1, T, 0)).toBeUndefined();
  });

  it('sync: the wanted revision → SYNCED with its keys; an older one → PENDING keeping the lease; never backwards, never a tombstone', () => {
    const enq = item({
      status: 'ENQUEUED',
      wantRev: 2,
      syncedRev: 0,
      attempts: 2,
      lastError: 'e',
      notBefore: 5,
      enqueuedAt: T - 1,
    });
    const u = { rev: 2, contentHash: 'c', key: 'k', versionId: 'v' };
    expect(syncItem(enq, u, T)).toEqual({
      ...enq,
      status: 'SYNCED',
      syncedRev: 2,
      contentHash: 'c',
      key: 'k',
      versionId: 'v',
      attempts: 0,
      lastError: undefined,
      notBefore: undefined,
      enqueuedAt: undefined,
      syncedAt: T,
      updatedAt: T,
    });
    expect(syncItem(enq, { ...u, rev: 1 }, T)).toMatchObject({
      status: 'PENDING',
      syncedRev: 1,
      enqueuedAt: T - 1,
    });
    expect(syncItem(item({ syncedRev: 2, wantRev: 2 }), u, T)).toBeUndefined();
    expect(syncItem(item({ status: 'DELETED' }), u, T)).toBeUndefined();
    expect(syncItem(undefined, u, T)).toBeUndefined();
  });

  it('fail: permanent → FAILED, retryable → PENDING with its backoff; the reason capped at 500 characters', () => {
    const enq = item({ status: 'ENQUEUED', attempts: 1, enqueuedAt: T - 1 });
    const long = 'r'.repeat(600);
    expect(failItem(enq, { reason: long, permanent: true, notBefore: T + 9 }, T)).toEqual({
      ...enq,
      status: 'FAILED',
      attempts: 2,
      lastError: 'r'.repeat(500),
      notBefore: undefined,
      enqueuedAt: undefined,
      updatedAt: T,
    });
    expect(failItem(enq, { reason: 'x', permanent: false, notBefore: T + 9 }, T)).toMatchObject({
      status: 'PENDING',
      attempts: 2,
      lastError: 'x',
      notBefore: T + 9,
    });
    for (const status of ['SYNCED', 'DELETED'] as const) {
      expect(failItem(item({ status }), { reason: 'x', permanent: true }, T)).toBeUndefined();
    }
    expect(failItem(undefined, { reason: 'x', permanent: true }, T)).toBeUndefined();
  });
});

describe('pick order and start keys', () => {
  it('every month name, zero-padded sort keys, unknown or odd times sort last', () => {
    const months = [
      'Jan',
      'Feb',
      'Mar',
      'Apr',
      'May',
      'Jun',
      'Jul',
      'Aug',
      'Sep',
      'Oct',
      'Nov',
      'Dec',
    ];
    months.forEach((m, i) => {
      expect(startKey(`Sun, 7 ${m} 2024 01:02:03`), m).toBe(Date.UTC(2024, i, 7, 1, 2, 3));
    });
    expect(startKey('Sun, 17 Mar 2024 01:02:03')).toBe(Date.UTC(2024, 2, 17, 1, 2, 3));
    expect(startKey(undefined)).toBe(0);
    expect(startKey('')).toBe(0);
    expect(startKey('yesterday')).toBe(0);
    expect(startSortKey('Sun, 7 Jan 2024 01:02:03')).toBe(
      String(Date.UTC(2024, 0, 7, 1, 2, 3)).padStart(15, '0'),
    );
    expect(startSortKey(undefined)).toBe('000000000000000');
  });

  it('newest start first, unknown starts last, ties by id descending', () => {
    const a = item({ id: '1', startTime: 'Mon, 1 Jan 2024 08:00:00' });
    const b = item({ id: '2', startTime: 'Tue, 2 Jan 2024 08:00:00' });
    const c = item({ id: '3', startTime: undefined });
    const d = item({ id: '4', startTime: 'Tue, 2 Jan 2024 08:00:00' });
    expect([a, b, c, d].sort(pickOrder).map((x) => x.id)).toEqual(['4', '2', '1', '3']);
    expect(pickOrder(b, b)).toBe(0);
    // Same start: the larger id first, in both argument orders.
    expect(pickOrder(b, d)).toBe(1);
    expect(pickOrder(d, b)).toBe(-1);
  });
});
