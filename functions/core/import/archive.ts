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

import { buildIndex, buildManifest } from '../export/derive.ts';
import { assertUserId } from '../keys.ts';
import type { Log, ObjectStore } from '../ports.ts';
import { DEFAULT_ZIP_LIMITS, type ImportError, type ZipLimits } from './export-zip.ts';
import {
  emptyTally,
  type ImportItem,
  type ImportOutcome,
  planZip,
  ZipImportRun,
  type ZipSource,
} from './plan.ts';

export {
  entryKeySuffix,
  type ImportItem,
  type ImportOutcome,
  isNotData,
  NOT_AN_EXPORT,
  type ZipSource,
} from './plan.ts';

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

/** The whole ZIP in one run (the CLI): pass 1, every entry, the rows without GPX, the index. */
export async function importExportZip(
  store: ObjectStore,
  userId: string,
  src: ZipSource,
  opts: { limits?: Partial<ZipLimits>; log: Log },
): Promise<ArchiveImportReport> {
  assertUserId(userId);
  const lim: ZipLimits = { ...DEFAULT_ZIP_LIMITS, ...opts.limits };
  const tally = emptyTally();
  const plan = await planZip(src, lim, tally);
  const report: ArchiveImportReport = {
    zipId: plan?.zipId,
    activities: 0,
    written: 0,
    unchanged: 0,
    originals: 0,
    skipped: 0,
    counts: { new: 0, updated: 0, merged: 0, unchanged: 0, duplicate: 0, skipped: 0 },
    items: tally.items,
    errors: tally.errors,
    notices: tally.notices,
  };
  if (!plan) {
    report.skipped = tally.skipped;
    return report;
  }
  const run = new ZipImportRun(store, userId, plan, lim, tally);
  // Pass 2: originals and one GPX at a time; one bad entry never stops the rest.
  const byOrdinal = new Map(plan.entries.map((e) => [e.ordinal, e]));
  let ordinal = -1;
  for await (const e of src.entries()) {
    const planned = byOrdinal.get(++ordinal);
    if (planned) await run.entry(e, planned);
  }
  // Manual entries, and rows whose GPX was missing or unsafe.
  for (const r of plan.rowsWithoutEntry) await run.rowWithoutEntry(r);
  const { items } = tally;
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
  Object.assign(report, {
    activities: tally.activities,
    written: tally.written,
    unchanged: tally.unchanged,
    originals: tally.originals,
    skipped: tally.skipped,
  });
  opts.log.info('export ZIP imported', {
    zipId: plan.zipId,
    activities: report.activities,
    errors: report.errors.length,
  });
  return report;
}
