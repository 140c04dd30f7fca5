/**
 * The contract every Ledger, AccountStore and AuthStateStore implementation passes
 * (memory, SQLite, DynamoDB). Factories return fresh, empty stores.
 */
import { describe, expect, it } from 'vitest';
import type { Account, AccountStore, AuthStateStore, Ledger } from '../../functions/core/ports.ts';

const T0 = Date.UTC(2026, 0, 1);
const LEASE = 60_000;

export function ledgerContract(name: string, make: () => Promise<Ledger>) {
  describe(`Ledger contract: ${name}`, () => {
    it('observe adds new items as PENDING and does not write unchanged ones', async () => {
      const l = await make();
      const r1 = await l.observe(
        '1',
        [
          {
            feed: 'fitnessActivities',
            id: '10',
            summaryHash: 'a',
            startTime: 'Tue, 5 Mar 2024 07:15:00',
          },
        ],
        T0,
      );
      expect(r1).toEqual({ added: 1, changed: 0, unchanged: 0 });
      const r2 = await l.observe(
        '1',
        [{ feed: 'fitnessActivities', id: '10', summaryHash: 'a' }],
        T0 + 1,
      );
      expect(r2).toEqual({ added: 0, changed: 0, unchanged: 1 });
      const it1 = await l.get('1', 'fitnessActivities', '10');
      expect(it1).toMatchObject({
        status: 'PENDING',
        wantRev: 1,
        syncedRev: 0,
        startTime: 'Tue, 5 Mar 2024 07:15:00',
      });
      expect(await l.get('2', 'fitnessActivities', '10')).toBeUndefined();
    });

    it('full lifecycle: pick → enqueue → sync; a change re-opens it with a higher revision', async () => {
      const l = await make();
      await l.observe('1', [{ feed: 'fitnessActivities', id: '10', summaryHash: 'a' }], T0);
      const [p] = await l.pick('1', T0, 10, LEASE);
      expect(p?.id).toBe('10');
      expect(await l.markEnqueued('1', 'fitnessActivities', '10', p!.wantRev, T0, LEASE)).toBe(
        true,
      );
      expect(await l.markEnqueued('1', 'fitnessActivities', '10', p!.wantRev, T0, LEASE)).toBe(
        false,
      );
      expect(await l.pick('1', T0 + 1, 10, LEASE)).toHaveLength(0);
      expect(
        await l.markSynced(
          '1',
          'fitnessActivities',
          '10',
          { rev: 1, contentHash: 'h', key: 'raw/1/fitnessActivities/10.json', versionId: 'v1' },
          T0 + 2,
        ),
      ).toBe(true);
      // A redelivered message cannot sync the same revision twice.
      expect(
        await l.markSynced(
          '1',
          'fitnessActivities',
          '10',
          { rev: 1, contentHash: 'h', key: 'k' },
          T0 + 3,
        ),
      ).toBe(false);
      expect(await l.get('1', 'fitnessActivities', '10')).toMatchObject({
        status: 'SYNCED',
        syncedRev: 1,
        contentHash: 'h',
        versionId: 'v1',
      });
      const ch = await l.observe(
        '1',
        [{ feed: 'fitnessActivities', id: '10', summaryHash: 'a', force: true }],
        T0 + 4,
      );
      expect(ch.changed).toBe(1);
      expect(await l.get('1', 'fitnessActivities', '10')).toMatchObject({
        status: 'PENDING',
        wantRev: 2,
        syncedRev: 1,
      });
    });

    it('an expired lease makes an ENQUEUED item pickable again (lost message)', async () => {
      const l = await make();
      await l.observe('1', [{ feed: 'fitnessActivities', id: '10', summaryHash: 'a' }], T0);
      await l.markEnqueued('1', 'fitnessActivities', '10', 1, T0, LEASE);
      expect(await l.pick('1', T0 + LEASE - 1, 10, LEASE)).toHaveLength(0);
      const again = await l.pick('1', T0 + LEASE, 10, LEASE);
      expect(again.map((i) => i.id)).toEqual(['10']);
      expect(await l.markEnqueued('1', 'fitnessActivities', '10', 1, T0 + LEASE, LEASE)).toBe(true);
    });

    it('pick orders newest first and respects the limit and notBefore', async () => {
      const l = await make();
      await l.observe(
        '1',
        [
          {
            feed: 'fitnessActivities',
            id: '1',
            summaryHash: 'x',
            startTime: 'Mon, 1 Jan 2024 07:00:00',
          },
          {
            feed: 'fitnessActivities',
            id: '2',
            summaryHash: 'x',
            startTime: 'Sat, 1 Jun 2024 07:00:00',
          },
          {
            feed: 'fitnessActivities',
            id: '3',
            summaryHash: 'x',
            startTime: 'Fri, 1 Mar 2024 07:00:00',
          },
        ],
        T0,
      );
      expect((await l.pick('1', T0, 2, LEASE)).map((i) => i.id)).toEqual(['2', '3']);
      await l.markFailed(
        '1',
        'fitnessActivities',
        '2',
        { reason: 'live', permanent: false, notBefore: T0 + 5000 },
        T0,
      );
      expect((await l.pick('1', T0, 5, LEASE)).map((i) => i.id)).toEqual(['3', '1']);
      expect((await l.pick('1', T0 + 5000, 5, LEASE)).map((i) => i.id)).toEqual(['2', '3', '1']);
    });

    it('deletion tombstones; a failed item keeps its reason; counts and list agree', async () => {
      const l = await make();
      await l.observe(
        '1',
        [
          { feed: 'fitnessActivities', id: '1', summaryHash: 'x' },
          { feed: 'fitnessActivities', id: '2', summaryHash: 'x' },
          { feed: 'fitnessActivities', id: '3', summaryHash: 'x' },
        ],
        T0,
      );
      expect(await l.markDeleted('1', 'fitnessActivities', '1', T0)).toBe(true);
      expect(await l.markDeleted('1', 'fitnessActivities', '1', T0)).toBe(false);
      await l.markFailed(
        '1',
        'fitnessActivities',
        '2',
        { reason: 'Invalid: bad json', permanent: true },
        T0,
      );
      expect(await l.get('1', 'fitnessActivities', '2')).toMatchObject({
        status: 'FAILED',
        lastError: 'Invalid: bad json',
        attempts: 1,
      });
      expect(await l.counts('1')).toEqual({
        PENDING: 1,
        ENQUEUED: 0,
        SYNCED: 0,
        DELETED: 1,
        FAILED: 1,
      });
      expect((await l.list('1', 'DELETED')).map((i) => i.id)).toEqual(['1']);
      expect(await l.list('1')).toHaveLength(3);
      expect(await l.pick('1', T0, 10, LEASE)).toHaveLength(1);
      // A deleted item that reappears upstream is fetched again.
      await l.observe('1', [{ feed: 'fitnessActivities', id: '1', summaryHash: 'x' }], T0 + 1);
      expect(await l.get('1', 'fitnessActivities', '1')).toMatchObject({
        status: 'PENDING',
        wantRev: 2,
      });
    });

    it('a sync never resurrects a deleted item', async () => {
      const l = await make();
      await l.observe('1', [{ feed: 'fitnessActivities', id: '1', summaryHash: 'x' }], T0);
      await l.markDeleted('1', 'fitnessActivities', '1', T0);
      expect(
        await l.markSynced(
          '1',
          'fitnessActivities',
          '1',
          { rev: 1, contentHash: 'h', key: 'k' },
          T0,
        ),
      ).toBe(false);
      expect((await l.get('1', 'fitnessActivities', '1'))?.status).toBe('DELETED');
    });
  });
}

export function accountStoreContract(name: string, make: () => Promise<AccountStore>) {
  describe(`AccountStore contract: ${name}`, () => {
    const acct = (userId: string): Account => ({
      userId,
      status: 'ACTIVE',
      linkedAt: T0,
      resources: { fitness_activities: '/fitnessActivities', change_log: '/changeLog' },
      discoveredAt: T0,
      cursors: {
        fitnessActivities: {
          next: '/fitnessActivities?pageSize=100',
          done: false,
          seen: 0,
          passes: 0,
          startedAt: T0,
        },
      },
      version: 0,
    });
    it('creates, reads, lists and updates with compare-and-swap', async () => {
      const s = await make();
      expect(await s.get('1')).toBeUndefined();
      expect(await s.save(acct('1'))).toBe(true);
      expect(await s.save(acct('1'))).toBe(false); // version 0 is stale now
      const a = await s.get('1');
      expect(a).toMatchObject({ userId: '1', status: 'ACTIVE', version: 1 });
      expect(a?.cursors.fitnessActivities?.next).toBe('/fitnessActivities?pageSize=100');
      expect(await s.save({ ...a!, watermark: T0 + 5 })).toBe(true);
      expect(await s.save({ ...a!, watermark: T0 + 6 })).toBe(false);
      expect((await s.get('1'))?.watermark).toBe(T0 + 5);
      await s.save(acct('2'));
      expect((await s.list()).map((x) => x.userId).sort()).toEqual(['1', '2']);
      await s.delete('2');
      expect((await s.list()).map((x) => x.userId)).toEqual(['1']);
    });
  });
}

export function authStateContract(name: string, make: () => Promise<AuthStateStore>) {
  describe(`AuthStateStore contract: ${name}`, () => {
    it('a state is consumed exactly once', async () => {
      const s = await make();
      await s.create({
        stateHash: 'aa',
        cookieHash: 'bb',
        expiresAt: T0 + 1000,
        purpose: 'first-link',
      });
      const results = await Promise.all([s.consume('aa'), s.consume('aa'), s.consume('aa')]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(results.find(Boolean)).toMatchObject({
        cookieHash: 'bb',
        purpose: 'first-link',
        expiresAt: T0 + 1000,
      });
      expect(await s.consume('zz')).toBeUndefined();
    });
    it('an invite is single-use and expires', async () => {
      const s = await make();
      await s.createInvite('i1', T0 + 1000);
      expect(await s.consumeInvite('i1', T0)).toBe(true);
      expect(await s.consumeInvite('i1', T0)).toBe(false);
      await s.createInvite('i2', T0 + 1000);
      expect(await s.consumeInvite('i2', T0 + 1000)).toBe(false);
    });
    it('peeking an invite does not spend it; a bound invite names its user', async () => {
      const s = await make();
      await s.createInvite('i3', T0 + 1000, '42');
      expect(await s.peekInvite('i3', T0)).toEqual({ expiresAt: T0 + 1000, userId: '42' });
      expect(await s.peekInvite('i3', T0)).toEqual({ expiresAt: T0 + 1000, userId: '42' });
      expect(await s.peekInvite('i3', T0 + 1000)).toBeUndefined();
      expect(await s.peekInvite('nope', T0)).toBeUndefined();
      await s.createInvite('i4', T0 + 1000);
      expect(await s.peekInvite('i4', T0)).toEqual({ expiresAt: T0 + 1000 });
      expect(await s.consumeInvite('i4', T0)).toBe(true);
      expect(await s.peekInvite('i4', T0)).toBeUndefined();
    });
    it('X9: the owner item is claimed by exactly one of concurrent first links', async () => {
      const s = await make();
      expect(await s.owner()).toBeUndefined();
      const wins = await Promise.all(['1', '2', '3', '4'].map((u) => s.claimOwner(u, T0)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      const owner = await s.owner();
      expect(['1', '2', '3', '4'][wins.indexOf(true)]).toBe(owner);
      // The owner may claim again (re-linking); nobody else can.
      expect(await s.claimOwner(owner!, T0)).toBe(true);
      expect(await s.claimOwner(owner === '1' ? '2' : '1', T0)).toBe(false);
      await s.releaseOwner(owner === '1' ? '2' : '1');
      expect(await s.owner()).toBe(owner);
      await s.releaseOwner(owner!);
      expect(await s.owner()).toBeUndefined();
      expect(await s.claimOwner('5', T0)).toBe(true);
    });
  });
}
