/**
 * Derived state converges like the ledger: after a crash, a full disk or a kill during a
 * rebuild, the next run renders every raw activity that has no index row yet (the row is
 * written last, after the GPX/TCX/GeoJSON files) and rebuilds the index and manifest.
 */
import { describeError } from '../errors.ts';
import { assertUserId } from '../keys.ts';
import type { Log, ObjectStore } from '../ports.ts';
import { storageFault } from '../storage-fault.ts';
import { buildIndex, buildManifest, rawActivities, writeDerived } from './derive.ts';

const dec = new TextDecoder();

/** Render the derived files of raw activities that lack their index row. */
export async function renderMissing(
  store: ObjectStore,
  userId: string,
  log: Log,
  deletedIds: ReadonlySet<string> = new Set(),
): Promise<{ rendered: number; failed: number }> {
  const prefix = `index/${assertUserId(userId)}/rows/`;
  const have = new Set<string>();
  for await (const key of store.list(prefix)) have.add(key.slice(prefix.length, -'.json'.length));
  let rendered = 0;
  let failed = 0;
  for await (const { id, key, bytes } of rawActivities(store, userId)) {
    if (have.has(id)) continue;
    try {
      await writeDerived(store, userId, JSON.parse(dec.decode(bytes)), {
        deleted: deletedIds.has(id),
      });
      rendered++;
    } catch (e) {
      if (storageFault(e)) throw e;
      failed++;
      log.warn('could not render an activity', { key, error: describeError(e) });
    }
  }
  return { rendered, failed };
}

/** Missing derived files (when `heal`), then the index and manifest of one user. */
export async function rebuildDerived(
  store: ObjectStore,
  userId: string,
  log: Log,
  deletedIds: ReadonlySet<string>,
  heal: boolean,
): Promise<{ rendered: number; rows: number; files: number }> {
  const { rendered } = heal ? await renderMissing(store, userId, log, deletedIds) : { rendered: 0 };
  const { rows } = await buildIndex(store, userId, deletedIds);
  const { files } = await buildManifest(store, userId);
  return { rendered, rows, files };
}
