/**
 * Importing Runkeeper's export ZIP into the archive, memory-bounded: two passes over the
 * entries (a random-access ZIP reader can list them twice). Pass 1 reads only the CSVs; pass 2
 * handles one GPX at a time, writing its activity (raw, GPX, TCX, GeoJSON, index row) before
 * reading the next, so a ZIP of several hundred MB needs a few MB of memory.
 *
 * Layout (same keys locally and in S3):
 *   raw/{userId}/fitnessActivities/{syntheticId}.json   the API-shaped activity (source "RunKeeper export")
 *   raw/{userId}/export/{zipId}/{entry}                  every original file of the ZIP, byte for byte
 * `zipId` is derived from cardioActivities.csv, so importing the same ZIP again rewrites
 * nothing. API and ZIP copies of one activity are merged when the index is built
 * (functions/core/export/derive.ts), both sources recorded; nothing is deleted.
 * Hostile content (unsafe names, zip bombs, broken rows, broken GPX) is reported, never thrown.
 */

import { describeError } from '../errors.ts';
import { buildIndex, buildManifest, writeDerived } from '../export/derive.ts';
import { sha256Hex } from '../hash.ts';
import { assertUserId } from '../keys.ts';
import type { Log, ObjectStore } from '../ports.ts';
import {
  checkEntrySize,
  DEFAULT_ZIP_LIMITS,
  type ImportError,
  type ParsedGpx,
  parseCardioCsv,
  parseExportGpx,
  safeEntryName,
  toApiShapedActivity,
  type ZipEntry,
  type ZipLimits,
} from './export-zip.ts';
import { assignIds, type RowIdentity } from './identity.ts';

/** A ZIP that can be listed more than once (file or ranged object reads). */
export interface ZipSource {
  entries(): AsyncIterable<ZipEntry>;
}

export type ImportOutcome = 'new' | 'updated' | 'merged' | 'unchanged' | 'duplicate' | 'skipped';

/** What happened to one CSV row. */
export interface ImportItem {
  line: number | undefined;
  outcome: ImportOutcome;
  /** Synthetic id (absent for skipped rows). */
  id?: string;
  /** The API activity it was merged with (outcome `merged`). */
  mergedWith?: string;
  date?: string;
  type?: string;
  reason?: string;
}

export interface ArchiveImportReport {
  zipId: string | undefined;
  /** Distinct activities stored (new, updated, merged or unchanged). */
  activities: number;
  written: number;
  unchanged: number;
  originals: number;
  skipped: number;
  /** Rows per outcome. */
  counts: Record<ImportOutcome, number>;
  /** One entry per CSV row, in CSV order (skipped rows carry their reason). */
  items: ImportItem[];
  /** Problems: a row, entry or file that could not be imported as it is (exit 1). */
  errors: ImportError[];
  /** Not failures: entries that are not data, byte-identical duplicate rows, stray files. */
  notices: ImportError[];
}

/** The message for a ZIP without cardioActivities.csv. */
export const NOT_AN_EXPORT = 'this is not a Runkeeper export (no cardioActivities.csv)';

const base = (name: string) => name.slice(name.lastIndexOf('/') + 1);
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8');

/** An entry name as a key suffix: validated, then every segment reduced to safe characters. */
export function entryKeySuffix(name: string): string | undefined {
  const safe = safeEntryName(name);
  if (!safe.ok) return undefined;
  const parts = name.split('/').map((p) => p.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120));
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return parts.join('/');
}

/** Entries that are not data: macOS resource forks and Finder/Explorer litter. */
export function isNotData(name: string): boolean {
  const parts = name.split('/');
  const b = parts.at(-1) ?? '';
  return (
    parts.includes('__MACOSX') ||
    b.startsWith('._') ||
    b === '.DS_Store' ||
    b === 'Thumbs.db' ||
    b === 'desktop.ini'
  );
}

export async function importExportZip(
  store: ObjectStore,
  userId: string,
  src: ZipSource,
  opts: { limits?: Partial<ZipLimits>; log: Log },
): Promise<ArchiveImportReport> {
  assertUserId(userId);
  const lim: ZipLimits = { ...DEFAULT_ZIP_LIMITS, ...opts.limits };
  const errors: ImportError[] = [];
  const notices: ImportError[] = [];
  const items: ImportItem[] = [];
  const report: ArchiveImportReport = {
    zipId: undefined,
    activities: 0,
    written: 0,
    unchanged: 0,
    originals: 0,
    skipped: 0,
    counts: { new: 0, updated: 0, merged: 0, unchanged: 0, duplicate: 0, skipped: 0 },
    items,
    errors,
    notices,
  };

  // Pass 1: names, sizes and the CSVs.
  let cardio: { name: string; text: string; bytes: Uint8Array } | undefined;
  const unsafe = new Set<string>();
  let total = 0;
  let count = 0;
  for await (const e of src.entries()) {
    if (++count > lim.maxEntries) {
      errors.push({ reason: `more than ${lim.maxEntries} entries: the rest were not read` });
      break;
    }
    if (e.name.endsWith('/')) continue;
    if (isNotData(e.name)) {
      notices.push({ entry: e.name, reason: 'not data (system file): skipped' });
      unsafe.add(e.name);
      continue;
    }
    const suffix = entryKeySuffix(e.name);
    if (!suffix) {
      const why = safeEntryName(e.name);
      errors.push({
        entry: e.name,
        reason: `unsafe entry name: ${why.ok ? 'characters' : why.reason}`,
      });
      unsafe.add(e.name);
      continue;
    }
    const tooBig = checkEntrySize(e.size, e.compressedSize, total, lim);
    if (tooBig) {
      errors.push({ entry: e.name, reason: `possible zip bomb: ${tooBig}` });
      unsafe.add(e.name);
      continue;
    }
    total += e.size;
    if (base(e.name).toLowerCase() === 'cardioactivities.csv' && !cardio) {
      const bytes = await readCapped(e, lim, errors);
      if (bytes) cardio = { name: e.name, text: dec.decode(bytes), bytes };
    }
  }
  if (!cardio) {
    errors.push({
      reason: `${NOT_AN_EXPORT}: nothing imported (files already stored are untouched)`,
    });
    report.skipped = unsafe.size;
    return report;
  }
  const zipId = sha256Hex(cardio.bytes).slice(0, 16);
  report.zipId = zipId;
  const { rows, errors: csvErrors } = parseCardioCsv(cardio.text);
  for (const ce of csvErrors) {
    errors.push({ entry: cardio.name, ...ce });
    if (ce.line === undefined) continue;
    items.push({ line: ce.line, outcome: 'skipped', reason: ce.reason });
    report.skipped++;
  }
  const identities = assignIds(rows);
  const byGpx = new Map<string, RowIdentity[]>();
  for (const r of identities) {
    if (r.duplicateOf !== undefined) {
      items.push({
        line: r.row.line,
        outcome: 'duplicate',
        id: r.id,
        date: r.row.date,
        type: r.row.type,
        reason: `byte-identical to line ${r.duplicateOf}`,
      });
      notices.push({
        entry: cardio.name,
        line: r.row.line,
        reason: `duplicate row (byte-identical to line ${r.duplicateOf}): imported once`,
      });
      continue;
    }
    const g = r.row.gpxFile ? base(r.row.gpxFile) : undefined;
    if (g) {
      const owners = byGpx.get(g);
      if (owners) owners.push(r);
      else byGpx.set(g, [r]);
    }
  }
  const done = new Set<RowIdentity>();

  const storeActivity = async (r: RowIdentity, gpx: ParsedGpx | undefined) => {
    done.add(r);
    const { row, id } = r;
    const act = toApiShapedActivity(row, gpx, id);
    const key = `raw/${userId}/fitnessActivities/${id}.json`;
    let put: { written: boolean };
    let existed: boolean;
    try {
      existed = (await store.hash(key)) !== undefined;
      put = await store.put(key, enc.encode(JSON.stringify(act)), 'application/json');
    } catch (e) {
      // One activity that cannot be stored never stops the others.
      const reason = `not stored: ${describeError(e)}`;
      errors.push({ entry: cardio!.name, line: row.line, reason });
      items.push({
        line: row.line,
        outcome: 'skipped',
        id,
        date: row.date,
        type: row.type,
        reason,
      });
      return;
    }
    if (put.written) report.written++;
    else report.unchanged++;
    report.activities++;
    items.push({
      line: row.line,
      outcome: put.written ? (existed ? 'updated' : 'new') : 'unchanged',
      id,
      date: row.date,
      type: row.type,
    });
    try {
      await writeDerived(store, userId, act, { source: 'zip' });
    } catch (e) {
      errors.push({
        entry: cardio!.name,
        line: row.line,
        reason: `derived files not rendered: ${String(e)}`,
      });
    }
  };

  // Pass 2: originals and one GPX at a time; one bad entry never stops the rest.
  total = 0;
  for await (const e of src.entries()) {
    if (e.name.endsWith('/') || unsafe.has(e.name)) continue;
    const suffix = entryKeySuffix(e.name);
    if (!suffix || checkEntrySize(e.size, e.compressedSize, total, lim)) continue;
    total += e.size;
    const bytes = await readCapped(e, lim, errors);
    if (!bytes) {
      report.skipped++;
      continue;
    }
    try {
      await store.put(`raw/${userId}/export/${zipId}/${suffix}`, bytes, contentTypeOf(e.name));
      report.originals++;
    } catch (err) {
      errors.push({ entry: e.name, reason: `original not stored: ${describeError(err)}` });
    }
    if (!e.name.toLowerCase().endsWith('.gpx')) continue;
    const owners = byGpx.get(base(e.name));
    if (!owners) {
      notices.push({
        entry: e.name,
        reason: 'GPX file not referenced by cardioActivities.csv (kept under export/)',
      });
      continue;
    }
    let gpx: ParsedGpx | undefined;
    if (bytes.byteLength > lim.maxGpxBytes) {
      errors.push({
        entry: e.name,
        reason: `GPX larger than ${lim.maxGpxBytes} bytes: kept, activity imported without path`,
      });
    } else {
      try {
        gpx = parseExportGpx(bytes);
      } catch (err) {
        errors.push({
          entry: e.name,
          reason: `${err instanceof Error ? err.message : String(err)}: imported without path`,
        });
      }
    }
    for (const r of owners) if (!done.has(r)) await storeActivity(r, gpx);
  }
  // Manual entries, and rows whose GPX was missing or unsafe.
  for (const r of identities) {
    if (done.has(r) || r.duplicateOf !== undefined) continue;
    if (r.row.gpxFile) {
      errors.push({
        entry: cardio.name,
        line: r.row.line,
        reason: `GPX file "${r.row.gpxFile}" not usable: imported without path`,
      });
    }
    await storeActivity(r, undefined);
  }
  report.skipped += unsafe.size;
  const { merged } = await buildIndex(store, userId);
  await buildManifest(store, userId);
  for (const it of items) {
    const api = it.id === undefined ? undefined : merged[it.id];
    if (api !== undefined && (it.outcome === 'new' || it.outcome === 'updated')) {
      it.outcome = 'merged';
      it.mergedWith = api;
    }
  }
  items.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  for (const it of items) report.counts[it.outcome]++;
  opts.log.info('export ZIP imported', {
    zipId,
    activities: report.activities,
    errors: errors.length,
  });
  return report;
}

async function readCapped(
  e: ZipEntry,
  lim: ZipLimits,
  errors: ImportError[],
): Promise<Uint8Array | undefined> {
  try {
    const bytes = await e.read();
    if (bytes.byteLength > lim.maxEntryBytes) {
      errors.push({ entry: e.name, reason: 'possible zip bomb: entry larger than its limit' });
      return undefined;
    }
    return bytes;
  } catch (err) {
    errors.push({
      entry: e.name,
      reason: `cannot read entry: ${err instanceof Error ? err.message : String(err)}`,
    });
    return undefined;
  }
}

function contentTypeOf(name: string): string {
  const n = name.toLowerCase();
  if (n.endsWith('.csv')) return 'text/csv';
  if (n.endsWith('.gpx')) return 'application/gpx+xml';
  return 'application/octet-stream';
}
