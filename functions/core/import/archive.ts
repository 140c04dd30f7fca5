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

import { buildIndex, writeDerived } from '../export/derive.ts';
import { sha256Hex } from '../hash.ts';
import { assertUserId } from '../keys.ts';
import type { Log, ObjectStore } from '../ports.ts';
import {
  type CardioRow,
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

/** A ZIP that can be listed more than once (file or ranged object reads). */
export interface ZipSource {
  entries(): AsyncIterable<ZipEntry>;
}

export interface ArchiveImportReport {
  zipId: string | undefined;
  activities: number;
  written: number;
  unchanged: number;
  originals: number;
  skipped: number;
  errors: ImportError[];
}

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

export async function importExportZip(
  store: ObjectStore,
  userId: string,
  src: ZipSource,
  opts: { limits?: Partial<ZipLimits>; log: Log },
): Promise<ArchiveImportReport> {
  assertUserId(userId);
  const lim: ZipLimits = { ...DEFAULT_ZIP_LIMITS, ...opts.limits };
  const errors: ImportError[] = [];
  const report: ArchiveImportReport = {
    zipId: undefined,
    activities: 0,
    written: 0,
    unchanged: 0,
    originals: 0,
    skipped: 0,
    errors,
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
      reason:
        'cardioActivities.csv not found: nothing imported (files already stored are untouched)',
    });
    report.skipped = unsafe.size;
    return report;
  }
  const zipId = sha256Hex(cardio.bytes).slice(0, 16);
  report.zipId = zipId;
  const { rows, errors: csvErrors } = parseCardioCsv(cardio.text);
  for (const ce of csvErrors) errors.push({ entry: cardio.name, ...ce });
  report.skipped += csvErrors.filter((ce) => ce.line !== undefined).length;
  const byGpx = new Map<string, CardioRow[]>();
  for (const r of rows)
    if (r.gpxFile) byGpx.set(base(r.gpxFile), [...(byGpx.get(base(r.gpxFile)) ?? []), r]);
  const done = new Set<CardioRow>();
  const ids = new Set<string>();

  const storeActivity = async (row: CardioRow, gpx: ParsedGpx | undefined) => {
    done.add(row);
    const act = toApiShapedActivity(row, gpx);
    const id = String(act.uri).slice('/fitnessActivities/'.length);
    if (ids.has(id)) {
      errors.push({ entry: cardio!.name, line: row.line, reason: `duplicate activity ${id}` });
      report.skipped++;
      return;
    }
    ids.add(id);
    const put = await store.put(
      `raw/${userId}/fitnessActivities/${id}.json`,
      enc.encode(JSON.stringify(act)),
      'application/json',
    );
    if (put.written) report.written++;
    else report.unchanged++;
    report.activities++;
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

  // Pass 2: originals and one GPX at a time.
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
    await store.put(`raw/${userId}/export/${zipId}/${suffix}`, bytes, contentTypeOf(e.name));
    report.originals++;
    if (!e.name.toLowerCase().endsWith('.gpx')) continue;
    const owners = byGpx.get(base(e.name));
    if (!owners) {
      errors.push({
        entry: e.name,
        reason: 'GPX file not referenced by cardioActivities.csv (kept under export/)',
      });
      continue;
    }
    let gpx: ParsedGpx | undefined;
    try {
      gpx = parseExportGpx(dec.decode(bytes));
    } catch (err) {
      errors.push({
        entry: e.name,
        reason: `${err instanceof Error ? err.message : String(err)}: imported without path`,
      });
    }
    for (const row of owners) if (!done.has(row)) await storeActivity(row, gpx);
  }
  // Manual entries, and rows whose GPX was missing or unsafe.
  for (const row of rows) {
    if (done.has(row)) continue;
    if (row.gpxFile) {
      errors.push({
        entry: cardio.name,
        line: row.line,
        reason: `GPX file "${row.gpxFile}" not usable: imported without path`,
      });
    }
    await storeActivity(row, undefined);
  }
  report.skipped += unsafe.size;
  await buildIndex(store, userId);
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
