/**
 * What `index/{userId}/manifest.json` covers, and checking an archive against it
 * (`rk-sync verify`, locally or against the bucket through the same ObjectStore port).
 *
 * The manifest lists every stored file of the user: raw documents (and the export ZIP's
 * originals), GPX, TCX, GeoJSON, FIT, photos and the index itself (all but the manifest).
 * `history/` (local earlier revisions) is not part of the archive layout and not listed.
 */
import { sha256Hex } from '../hash.ts';
import { assertUserId } from '../keys.ts';
import type { ObjectStore } from '../ports.ts';

export const MANIFEST_PREFIXES = ['raw', 'gpx', 'tcx', 'geojson', 'fit', 'media', 'index'] as const;

export const manifestKey = (userId: string) => `index/${assertUserId(userId)}/manifest.json`;

export interface ManifestFile {
  key: string;
  sha256: string;
  size: number;
}

/** Every key the manifest of `userId` must list, sorted. */
export async function manifestKeys(store: ObjectStore, userId: string): Promise<string[]> {
  const own = manifestKey(userId);
  const keys: string[] = [];
  for (const prefix of MANIFEST_PREFIXES) {
    for await (const key of store.list(`${prefix}/${assertUserId(userId)}/`)) {
      if (key !== own) keys.push(key);
    }
  }
  return keys.sort();
}

export interface VerifyResult {
  userId: string;
  /** `missing`: no manifest; `damaged`: not a readable manifest. */
  manifest: 'ok' | 'missing' | 'damaged';
  /** Files listed in the manifest. */
  listed: number;
  /** Listed files whose bytes match (sha256 and size). */
  ok: number;
  missing: string[];
  changed: { key: string; expected: string; actual: string }[];
  unexpected: string[];
}

export const verifyOk = (r: VerifyResult) =>
  r.manifest === 'ok' && r.missing.length + r.changed.length + r.unexpected.length === 0;

/**
 * Reads every listed file and compares its sha256 and size with the manifest (the bytes,
 * not stored metadata: a flipped byte is found), then lists files the manifest lacks.
 */
export async function verifyArchive(
  store: ObjectStore,
  userId: string,
  opts: { concurrency?: number } = {},
): Promise<VerifyResult> {
  const result: VerifyResult = {
    userId,
    manifest: 'ok',
    listed: 0,
    ok: 0,
    missing: [],
    changed: [],
    unexpected: [],
  };
  const bytes = await store.get(manifestKey(userId));
  let files: ManifestFile[] = [];
  if (!bytes) result.manifest = 'missing';
  else {
    try {
      const m = JSON.parse(new TextDecoder().decode(bytes)) as { files?: unknown };
      if (!Array.isArray(m.files)) throw new Error('no files');
      files = m.files as ManifestFile[];
    } catch {
      result.manifest = 'damaged';
    }
  }
  result.listed = files.length;
  const listed = new Set(files.map((f) => f.key));
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++]!;
      const body = await store.get(f.key);
      if (!body) {
        result.missing.push(f.key);
        continue;
      }
      const actual = sha256Hex(body);
      if (actual !== f.sha256 || body.byteLength !== f.size) {
        result.changed.push({ key: f.key, expected: f.sha256, actual });
      } else result.ok++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
  for (const key of await manifestKeys(store, userId)) {
    if (!listed.has(key)) result.unexpected.push(key);
  }
  result.missing.sort();
  result.changed.sort((a, b) => a.key.localeCompare(b.key));
  return result;
}
