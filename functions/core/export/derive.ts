/**
 * Derived files from raw documents, through the ObjectStore port (same code for the CLI and
 * the Lambdas). Raw stays the source of truth: everything here can be re-run at any time
 * (`rk-sync export`, or the re-render path in AWS) and only rewrites files whose bytes change.
 *
 *   gpx/{userId}/fitnessActivities/{id}.gpx, tcx/…/{id}.tcx, geojson/…/{id}.geojson
 *   index/{userId}/rows/{id}.json          one index row per activity (incremental)
 *   index/{userId}/activities.csv|.ndjson  assembled from the rows
 *   index/{userId}/manifest.json           sha256 and size of every stored object of the user
 */
import { describeError } from '../errors.ts';
import { matchActivity } from '../import/match.ts';
import type { ItemRef } from '../keys.ts';
import { assertUserId } from '../keys.ts';
import type { Log, ObjectStore } from '../ports.ts';
import { storageFault } from '../storage-fault.ts';
import {
  CSV_HEADER,
  type IndexRow,
  type RenderOptions,
  renderAll,
  toCsvLine,
  toNdjsonLine,
} from './index-row.ts';
import { manifestKey, manifestKeys } from './manifest.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Concurrent reads when assembling the index and manifest (5,000 rows: seconds, not minutes). */
export const READ_CONCURRENCY = 16;

/** `fn` over every item with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  return keys;
}

export function rowKey(userId: string, id: string): string {
  return `index/${assertUserId(userId)}/rows/${id}.json`;
}

/** Render and store every derived file of one raw activity, plus its index row. */
export async function writeDerived(
  store: ObjectStore,
  userId: string,
  raw: unknown,
  opts: RenderOptions = {},
): Promise<IndexRow> {
  const { files, row } = renderAll(userId, raw, opts);
  for (const f of files) await store.put(f.key, enc.encode(f.body), f.contentType);
  await store.put(rowKey(userId, row.id), enc.encode(JSON.stringify(row)), 'application/json');
  return row;
}

/** The fetcher hook: derived files for fitness activities; a rendering problem never fails the fetch. */
export function derivedHook(store: ObjectStore, log: Log) {
  return async (userId: string, ref: ItemRef, doc: { json: unknown }): Promise<void> => {
    if (ref.feed !== 'fitnessActivities') return;
    try {
      await writeDerived(store, userId, doc.json);
    } catch (e) {
      // A full or read-only disk fails the fetch (the item is not marked synced, so the next
      // run stores it again with its derived files); a rendering problem does not.
      if (storageFault(e)) throw e;
      log.warn('derived files not rendered; raw is stored and `export` can retry', {
        id: ref.id,
        error: describeError(e),
      });
    }
  };
}

/** Mark an activity deleted in its index row (tombstone; files are kept). */
export async function markRowDeleted(
  store: ObjectStore,
  userId: string,
  id: string,
): Promise<void> {
  const bytes = await store.get(rowKey(userId, id));
  if (!bytes) return;
  const row = JSON.parse(dec.decode(bytes)) as IndexRow;
  if (row.deleted) return;
  await store.put(
    rowKey(userId, id),
    enc.encode(JSON.stringify({ ...row, deleted: true })),
    'application/json',
  );
}

/** Assemble activities.csv and activities.ndjson (newest first) from the per-activity rows. */
export async function buildIndex(
  store: ObjectStore,
  userId: string,
  deletedIds: ReadonlySet<string> = new Set(),
): Promise<{ rows: number; merged: Record<string, string> }> {
  const keys = await keysUnder(store, `index/${assertUserId(userId)}/rows/`);
  const read = await mapLimit(keys, READ_CONCURRENCY, async (key) => {
    const bytes = await store.get(key);
    if (!bytes) return undefined;
    try {
      const row = JSON.parse(dec.decode(bytes)) as IndexRow;
      return deletedIds.has(row.id) ? { ...row, deleted: true } : row;
    } catch {
      // A damaged row is skipped; `export` rewrites it from raw.
      return undefined;
    }
  });
  const rows = mergeSources(read.filter((r): r is IndexRow => r !== undefined));
  rows.sort((a, b) => (b.utcStart ?? b.localStart).localeCompare(a.utcStart ?? a.localStart));
  const csv = [CSV_HEADER, ...rows.map(toCsvLine)].join('\r\n');
  const ndjson = rows.map(toNdjsonLine).join('\n');
  await store.put(
    `index/${userId}/activities.csv`,
    enc.encode(`${csv}\r\n`),
    'text/csv; charset=utf-8',
  );
  await store.put(
    `index/${userId}/activities.ndjson`,
    enc.encode(ndjson ? `${ndjson}\n` : ''),
    'application/x-ndjson',
  );
  // ZIP id → the API id it was folded into (mergeSources records it as a `zip:{id}` flag).
  const merged: Record<string, string> = {};
  for (const r of rows) {
    for (const f of r.flags) if (f.startsWith('zip:')) merged[f.slice(4)] = r.id;
  }
  return { rows: rows.length, merged };
}

/** A manifest with the sha256 and size of every stored file of the user (./manifest.ts). */
export async function buildManifest(
  store: ObjectStore,
  userId: string,
): Promise<{ files: number }> {
  const keys = await manifestKeys(store, userId);
  const stat = async (key: string) => {
    if (store.stat) {
      const s = await store.stat(key);
      return s && { key, sha256: s.sha256 ?? '', size: s.size };
    }
    const bytes = await store.get(key);
    if (!bytes) return undefined;
    return { key, sha256: (await store.hash(key)) ?? '', size: bytes.byteLength };
  };
  const files = (await mapLimit(keys, READ_CONCURRENCY, stat)).filter(
    (f): f is { key: string; sha256: string; size: number } => f !== undefined,
  );
  await store.put(
    manifestKey(userId),
    enc.encode(JSON.stringify({ generatedBy: 'rk-sync', files }, null, 1)),
    'application/json',
  );
  return { files: files.length };
}

/** Re-render everything for a user from raw (the documented re-render path). */
export async function rerenderAll(
  store: ObjectStore,
  userId: string,
  log: Log,
  deletedIds: ReadonlySet<string> = new Set(),
): Promise<{ rendered: number; failed: number; rows: number }> {
  let rendered = 0;
  let failed = 0;
  for await (const { id, key, bytes } of rawActivities(store, userId)) {
    try {
      await writeDerived(store, userId, JSON.parse(dec.decode(bytes)), {
        deleted: deletedIds.has(id),
      });
      rendered++;
    } catch (e) {
      failed++;
      log.warn('could not render an activity', { key, error: describeError(e) });
    }
  }
  const { rows } = await buildIndex(store, userId, deletedIds);
  await buildManifest(store, userId);
  return { rendered, failed, rows };
}

/**
 * One activity, however many sources: a row imported from the export ZIP that matches an API
 * row (start time, type family, distance; tolerant of time-zone shifts) is folded into it, the
 * API row recording both sources. Both raw documents stay stored; only the index merges.
 */
export function mergeSources(rows: IndexRow[]): IndexRow[] {
  const api = rows.filter((r) => r.source !== 'zip');
  const byId = new Map(api.map((r) => [r.id, r]));
  const out: IndexRow[] = [...api];
  for (const z of rows.filter((r) => r.source === 'zip')) {
    const match = matchActivity(z, api);
    const target = match === undefined ? undefined : byId.get(match);
    if (target) {
      target.source = 'api+zip';
      target.flags = [...new Set([...target.flags, `zip:${z.id}`])];
    } else out.push(z);
  }
  return out;
}

/** Every stored raw fitness activity of a user (id, key, bytes); the re-render paths share it. */
export async function* rawActivities(
  store: ObjectStore,
  userId: string,
): AsyncGenerator<{ id: string; key: string; bytes: Uint8Array }> {
  for await (const key of store.list(`raw/${assertUserId(userId)}/fitnessActivities/`)) {
    const m = /\/([0-9]{1,20})\.json$/.exec(key);
    if (!m) continue;
    const bytes = await store.get(key);
    if (bytes) yield { id: m[1]!, key, bytes };
  }
}
