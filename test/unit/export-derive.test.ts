import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../functions/adapters/memory/index.ts';
import {
  buildIndex,
  derivedHook,
  markRowDeleted,
  rerenderAll,
} from '../../functions/core/export/derive.ts';
import { silentLog } from '../../functions/core/ports.ts';
import { startSimulator } from '../../simulator/server.ts';

describe('derived files through the ObjectStore port', () => {
  it('renders every simulator activity, builds the index and manifest, and re-renders idempotently', async () => {
    const sim = await startSimulator({ activities: 25, seed: 11 });
    try {
      const userId = sim.users[0]!.userId;
      const store = new MemoryObjectStore();
      const hook = derivedHook(store, silentLog);
      const ids = sim.activityIds(userId);
      for (const id of ids) {
        const doc = sim.document(userId, 'fitnessActivities', id);
        await store.put(
          `raw/${userId}/fitnessActivities/${id}.json`,
          new TextEncoder().encode(JSON.stringify(doc)),
          'application/json',
        );
        await hook(userId, { feed: 'fitnessActivities', id }, { json: doc });
      }
      const keys: string[] = [];
      for await (const k of store.list('')) keys.push(k);
      expect(keys.filter((k) => k.startsWith(`tcx/${userId}/`))).toHaveLength(ids.length);
      const withPath = ids.filter(
        (id) =>
          ((sim.document(userId, 'fitnessActivities', id) as { path: unknown[] }).path ?? [])
            .length > 1,
      );
      expect(keys.filter((k) => k.startsWith(`gpx/${userId}/`)).length).toBeGreaterThan(0);
      expect(keys.filter((k) => k.startsWith(`gpx/${userId}/`)).length).toBeLessThanOrEqual(
        withPath.length,
      );
      await markRowDeleted(store, userId, ids[0]!);
      const { rows } = await buildIndex(store, userId);
      expect(rows).toBe(ids.length);
      const csv = new TextDecoder().decode(await store.get(`index/${userId}/activities.csv`));
      expect(csv.split('\r\n').filter(Boolean)).toHaveLength(ids.length + 1);
      const nd = new TextDecoder()
        .decode(await store.get(`index/${userId}/activities.ndjson`))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(nd.find((r) => r.id === ids[0])?.deleted).toBe(true);
      const puts = store.puts;
      const r = await rerenderAll(store, userId, silentLog, new Set([ids[0]!]));
      expect(r).toMatchObject({ rendered: ids.length, failed: 0, rows: ids.length });
      // Re-rendering unchanged raw rewrites nothing but the manifest (new) — the rest is byte-identical.
      expect(store.puts - puts).toBe(1);
      const manifest = JSON.parse(
        new TextDecoder().decode(await store.get(`index/${userId}/manifest.json`)),
      );
      expect(manifest.files.length).toBeGreaterThanOrEqual(ids.length * 3);
      expect(manifest.files.every((f: { sha256: string }) => /^[0-9a-f]{64}$/.test(f.sha256))).toBe(
        true,
      );
    } finally {
      await sim.close();
    }
  });
});
