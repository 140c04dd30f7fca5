/**
 * AWS mode's index refresh converges after a crash (issue #11.1, "in both modes"): the
 * scheduler records the rebuild as owed before building, so a Lambda that dies mid-build
 * (here: the manifest write fails) leaves it owed and a later idle run builds it.
 */
import { describe, expect, it } from 'vitest';
import {
  MemoryAccountStore,
  MemoryLedger,
  MemoryObjectStore,
} from '../../functions/adapters/memory/index.ts';
import { ManualClock } from '../../functions/core/clock.ts';
import { writeDerived } from '../../functions/core/export/derive.ts';
import { silentLog } from '../../functions/core/ports.ts';
import { refreshIndex } from '../../functions/core/sync/index-refresh.ts';

const USER = '777';

describe('AWS index refresh after a crash mid-build', () => {
  it('a build that dies leaves the rebuild owed; the next idle run builds the index and manifest', async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    const accounts = new MemoryAccountStore();
    const ledger = new MemoryLedger();
    const store = new MemoryObjectStore();
    await accounts.save({
      userId: USER,
      status: 'ACTIVE',
      linkedAt: clock.now(),
      resources: {},
      discoveredAt: clock.now(),
      cursors: {},
      version: 0,
    });
    const raw = {
      uri: '/fitnessActivities/5',
      type: 'Running',
      start_time: 'Mon, 1 Jan 2024 08:00:00',
      total_distance: 1000,
      duration: 600,
    };
    await store.put(
      `raw/${USER}/fitnessActivities/5.json`,
      new TextEncoder().encode(JSON.stringify(raw)),
      'application/json',
    );
    await writeDerived(store, USER, raw);

    // The Lambda dies while writing the manifest (the CSV is already written).
    const put = store.put.bind(store);
    let dying = true;
    store.put = async (key, bytes, type) => {
      if (dying && key.endsWith('/manifest.json')) throw new Error('Lambda timed out');
      return put(key, bytes, type);
    };
    const deps = { accounts, ledger, store, clock, log: silentLog };
    await expect(
      refreshIndex(deps, USER, { outcome: 'ok', enqueued: 1, deleted: 0 }),
    ).rejects.toThrow('Lambda timed out');
    expect((await accounts.get(USER))?.indexDirtyAt).toBe(clock.now());
    expect(await store.get(`index/${USER}/manifest.json`)).toBeUndefined();

    dying = false;
    clock.advance(60_000);
    const r = await refreshIndex(deps, USER, { outcome: 'ok', enqueued: 0, deleted: 0 });
    expect(r).toMatchObject({ outcome: 'built', rows: 1 });
    const manifest = JSON.parse(
      new TextDecoder().decode((await store.get(`index/${USER}/manifest.json`))!),
    ) as { files: { key: string }[] };
    expect(manifest.files.map((f) => f.key)).toContain(`raw/${USER}/fitnessActivities/5.json`);
    expect((await accounts.get(USER))?.indexDirtyAt).toBeUndefined();
  });
});

describe('AWS index refresh: each condition pinned (mutation survivors)', () => {
  async function world(opts: { account?: boolean } = {}) {
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    const accounts = new MemoryAccountStore();
    const ledger = new MemoryLedger();
    const store = new MemoryObjectStore();
    if (opts.account !== false) {
      await accounts.save({
        userId: USER,
        status: 'ACTIVE',
        linkedAt: clock.now(),
        resources: {},
        discoveredAt: clock.now(),
        cursors: {},
        version: 0,
      });
    }
    for (const id of ['1', '2']) {
      const raw = {
        uri: `/fitnessActivities/${id}`,
        type: 'Running',
        start_time: `Mon, ${id} Jan 2024 08:00:00`,
        total_distance: 1000,
        duration: 600,
      };
      await writeDerived(store, USER, raw);
    }
    return {
      clock,
      accounts,
      ledger,
      store,
      deps: { accounts, ledger, store, clock, log: silentLog },
    };
  }
  const csvOf = async (store: MemoryObjectStore) =>
    new TextDecoder()
      .decode((await store.get(`index/${USER}/activities.csv`))!)
      .trim()
      .split('\r\n');

  it('skips a skipped run and a missing account without writing', async () => {
    const w = await world();
    expect(
      await refreshIndex(w.deps, USER, { outcome: 'skipped', enqueued: 1, deleted: 0 }),
    ).toEqual({
      outcome: 'skipped',
    });
    const none = await world({ account: false });
    expect(await refreshIndex(none.deps, USER, { outcome: 'ok', enqueued: 1, deleted: 0 })).toEqual(
      {
        outcome: 'skipped',
      },
    );
    expect(w.accounts.writes).toBe(1);
    expect(none.accounts.writes).toBe(0);
  });

  it('a run that only deleted marks the index; only fitness tombstones flag rows', async () => {
    const w = await world();
    // A weight entry with the same id deleted, activity 1 synced: row 1 stays live.
    await w.ledger.observe(USER, [{ feed: 'weight', id: '1', summaryHash: 'w' }], w.clock.now());
    await w.ledger.markDeleted(USER, 'weight', '1', w.clock.now());
    await w.ledger.observe(
      USER,
      [{ feed: 'fitnessActivities', id: '2', summaryHash: 'a' }],
      w.clock.now(),
    );
    await w.ledger.markDeleted(USER, 'fitnessActivities', '2', w.clock.now());
    expect(
      await refreshIndex(w.deps, USER, { outcome: 'ok', enqueued: 0, deleted: 1 }),
    ).toMatchObject({
      outcome: 'built',
      rows: 2,
    });
    const csv = await csvOf(w.store);
    expect(csv.find((l) => l.startsWith('1,'))).not.toMatch(/,true,/);
    expect(csv.find((l) => l.startsWith('2,'))).toMatch(/,true,/);
  });

  it('a build already owed writes the account once; the next is due exactly rebuildMs later; waiting marks once', async () => {
    const w = await world();
    const a = (await w.accounts.get(USER))!;
    await w.accounts.save({ ...a, indexDirtyAt: w.clock.now() });
    const before = w.accounts.writes;
    expect(
      await refreshIndex(w.deps, USER, { outcome: 'ok', enqueued: 0, deleted: 0 }, 1_000),
    ).toMatchObject({
      outcome: 'built',
    });
    expect(w.accounts.writes - before).toBe(1);
    // Changed again before the interval: marked dirty once, then waiting writes nothing.
    w.clock.advance(999);
    const w1 = w.accounts.writes;
    expect(
      await refreshIndex(w.deps, USER, { outcome: 'ok', enqueued: 1, deleted: 0 }, 1_000),
    ).toEqual({
      outcome: 'waiting',
    });
    expect(w.accounts.writes - w1).toBe(1);
    expect(
      await refreshIndex(w.deps, USER, { outcome: 'ok', enqueued: 1, deleted: 0 }, 1_000),
    ).toEqual({
      outcome: 'waiting',
    });
    expect(w.accounts.writes - w1).toBe(1);
    w.clock.advance(1);
    expect(
      await refreshIndex(w.deps, USER, { outcome: 'ok', enqueued: 0, deleted: 0 }, 1_000),
    ).toMatchObject({
      outcome: 'built',
    });
  });
});
