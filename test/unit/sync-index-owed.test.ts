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
