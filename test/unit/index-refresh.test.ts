/**
 * The scheduler's combined-index refresh (AWS): an idle run reads the account once and writes
 * nothing; a run that enqueued work marks the index stale; a due build assembles the CSV,
 * NDJSON and manifest (tombstones from the ledger) and stays stale while fetches are in flight.
 */
import { describe, expect, it } from 'vitest';
import {
  MemoryAccountStore,
  MemoryLedger,
  MemoryObjectStore,
} from '../../functions/adapters/memory/index.ts';
import { ManualClock } from '../../functions/core/clock.ts';
import { mapLimit, writeDerived } from '../../functions/core/export/derive.ts';
import { type Account, silentLog } from '../../functions/core/ports.ts';
import { INDEX_REBUILD_MS, refreshIndex } from '../../functions/core/sync/index-refresh.ts';

const USER = '12345';
const enc = new TextEncoder();
const run = (enqueued: number, deleted = 0) => ({ outcome: 'ok' as const, enqueued, deleted });

async function world() {
  const clock = new ManualClock();
  const accounts = new MemoryAccountStore();
  const ledger = new MemoryLedger();
  const store = new MemoryObjectStore();
  const account: Account = {
    userId: USER,
    status: 'ACTIVE',
    linkedAt: clock.now(),
    resources: {},
    discoveredAt: clock.now(),
    cursors: {},
    version: 0,
  };
  await accounts.save(account);
  for (const id of ['1', '2', '3']) {
    const raw = {
      uri: `/fitnessActivities/${id}`,
      type: 'Running',
      start_time: `Mon, ${id} Jan 2024 08:00:00`,
      total_distance: 1000,
      duration: 600,
    };
    await store.put(
      `raw/${USER}/fitnessActivities/${id}.json`,
      enc.encode(JSON.stringify(raw)),
      'application/json',
    );
    await writeDerived(store, USER, raw);
  }
  await ledger.observe(
    USER,
    ['1', '2', '3'].map((id) => ({ feed: 'fitnessActivities' as const, id, summaryHash: id })),
    clock.now(),
  );
  const deps = { accounts, ledger, store, clock, log: silentLog };
  return { clock, accounts, ledger, store, deps };
}

const text = async (store: MemoryObjectStore, key: string) =>
  new TextDecoder().decode((await store.get(key)) ?? new Uint8Array());

describe('refreshIndex', () => {
  it('an idle run with a clean index reads the account and writes nothing', async () => {
    const { deps, accounts, store } = await world();
    const writes = accounts.writes;
    const puts = store.puts;
    expect(await refreshIndex(deps, USER, run(0))).toEqual({ outcome: 'clean' });
    expect(accounts.writes).toBe(writes);
    expect(store.puts).toBe(puts);
  });

  it('builds at most once per interval, with tombstones, and stays stale while fetches are in flight', async () => {
    const { deps, accounts, ledger, store, clock } = await world();
    // First change ever: due at once.
    await ledger.markEnqueued(USER, 'fitnessActivities', '1', 1, clock.now(), 60_000);
    await ledger.markDeleted(USER, 'fitnessActivities', '3', clock.now());
    const first = await refreshIndex(deps, USER, run(1, 1));
    expect(first).toMatchObject({ outcome: 'built', rows: 3 });
    const csv = (await text(store, `index/${USER}/activities.csv`)).trim().split('\r\n');
    expect(csv).toHaveLength(4);
    expect(csv.find((l) => l.startsWith('3,'))).toMatch(/,true,/);
    const manifest = JSON.parse(await text(store, `index/${USER}/manifest.json`)) as {
      files: { key: string }[];
    };
    expect(manifest.files.filter((f) => f.key.startsWith('raw/'))).toHaveLength(3);
    // Item 1 is still ENQUEUED: the index stays stale, but the next build waits an hour.
    expect((await accounts.get(USER))?.indexDirtyAt).toBeDefined();
    clock.advance(60_000);
    const puts = store.puts;
    expect(await refreshIndex(deps, USER, run(0))).toEqual({ outcome: 'waiting' });
    expect(store.puts).toBe(puts);
    // Fetch landed; an hour later the build runs and the index is clean again.
    await ledger.markSynced(
      USER,
      'fitnessActivities',
      '1',
      { rev: 1, contentHash: 'h', key: 'k' },
      clock.now(),
    );
    clock.advance(INDEX_REBUILD_MS);
    expect(await refreshIndex(deps, USER, run(0))).toMatchObject({ outcome: 'built' });
    expect((await accounts.get(USER))?.indexDirtyAt).toBeUndefined();
    clock.advance(INDEX_REBUILD_MS);
    expect(await refreshIndex(deps, USER, run(0))).toEqual({ outcome: 'clean' });
  });

  it('skips revoked accounts', async () => {
    const { deps } = await world();
    expect(await refreshIndex(deps, USER, { outcome: 'revoked', enqueued: 0, deleted: 0 })).toEqual(
      {
        outcome: 'skipped',
      },
    );
  });
});

describe('mapLimit', () => {
  it('keeps input order and never exceeds the limit', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([...Array(50).keys()], 16, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, (i * 7) % 5));
      inFlight--;
      return i * 2;
    });
    expect(out).toEqual([...Array(50).keys()].map((i) => i * 2));
    expect(peak).toBe(16);
  });
});
