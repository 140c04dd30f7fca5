/**
 * The two halves of an export-ZIP import, usable in one go (the CLI, archive.ts) or in bounded
 * slices (the importer Lambda, ./slices.ts):
 *   planZip     pass 1: list the entries, read cardioActivities.csv, assign the row ids and
 *               decide which entries are read (deterministic: every slice recomputes it).
 *   ZipImportRun pass 2 for a subset: one entry at a time (original + its activities), and the
 *               rows that have no GPX entry. Every write has a deterministic key and is skipped
 *               when the bytes are unchanged, so a slice can run twice harmlessly.
 */

import { describeError } from '../errors.ts';
import { writeDerived } from '../export/derive.ts';
import { sha256Hex } from '../hash.ts';
import type { ObjectStore } from '../ports.ts';
import {
  checkEntrySize,
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

/** The running totals one run (or slice) adds to. */
export interface RunTally {
  activities: number;
  written: number;
  unchanged: number;
  originals: number;
  skipped: number;
  items: ImportItem[];
  errors: ImportError[];
  notices: ImportError[];
}

/** An entry pass 2 reads: its position in the ZIP listing, name and key suffix. */
export interface PlannedEntry {
  ordinal: number;
  name: string;
  suffix: string;
  size: number;
}

export interface ZipPlan {
  zipId: string;
  cardioName: string;
  identities: RowIdentity[];
  /** Safe data entries in ZIP order. */
  entries: PlannedEntry[];
  /** GPX base name → its rows (non-duplicates), owned by the first safe entry of that name. */
  byGpx: Map<string, RowIdentity[]>;
  gpxOwner: Map<string, number>;
  /** Non-duplicate rows whose GPX is absent (manual entries, missing or unsafe file). */
  rowsWithoutEntry: RowIdentity[];
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

export function emptyTally(): RunTally {
  return {
    activities: 0,
    written: 0,
    unchanged: 0,
    originals: 0,
    skipped: 0,
    items: [],
    errors: [],
    notices: [],
  };
}

/**
 * Pass 1: names, sizes and the CSV. Problems go to `tally`; no plan when the ZIP has no
 * cardioActivities.csv. `tally.skipped` counts the entries left out.
 */
export async function planZip(
  src: ZipSource,
  lim: ZipLimits,
  tally: RunTally,
): Promise<ZipPlan | undefined> {
  const { errors, notices, items } = tally;
  let cardio: { name: string; text: string; bytes: Uint8Array } | undefined;
  const entries: PlannedEntry[] = [];
  let total = 0;
  let ordinal = -1;
  for await (const e of src.entries()) {
    ordinal++;
    if (ordinal >= lim.maxEntries) {
      errors.push({ reason: `more than ${lim.maxEntries} entries: the rest were not read` });
      break;
    }
    if (e.name.endsWith('/')) continue;
    if (isNotData(e.name)) {
      notices.push({ entry: e.name, reason: 'not data (system file): skipped' });
      tally.skipped++;
      continue;
    }
    const suffix = entryKeySuffix(e.name);
    if (!suffix) {
      const why = safeEntryName(e.name);
      errors.push({
        entry: e.name,
        reason: `unsafe entry name: ${why.ok ? 'characters' : why.reason}`,
      });
      tally.skipped++;
      continue;
    }
    const tooBig = checkEntrySize(e.size, e.compressedSize, total, lim);
    if (tooBig) {
      errors.push({ entry: e.name, reason: `possible zip bomb: ${tooBig}` });
      tally.skipped++;
      continue;
    }
    total += e.size;
    entries.push({ ordinal, name: e.name, suffix, size: e.size });
    if (base(e.name).toLowerCase() === 'cardioactivities.csv' && !cardio) {
      const bytes = await readCapped(e, lim, errors);
      if (bytes) cardio = { name: e.name, text: dec.decode(bytes), bytes };
    }
  }
  if (!cardio) {
    errors.push({
      reason: `${NOT_AN_EXPORT}: nothing imported (files already stored are untouched)`,
    });
    return undefined;
  }
  const { rows, errors: csvErrors } = parseCardioCsv(cardio.text);
  for (const ce of csvErrors) {
    errors.push({ entry: cardio.name, ...ce });
    if (ce.line === undefined) continue;
    items.push({ line: ce.line, outcome: 'skipped', reason: ce.reason });
    tally.skipped++;
  }
  const identities = assignIds(rows);
  const gpxOwner = new Map<string, number>();
  for (const e of entries) {
    const b = base(e.name);
    if (e.name.toLowerCase().endsWith('.gpx') && !gpxOwner.has(b)) gpxOwner.set(b, e.ordinal);
  }
  const byGpx = new Map<string, RowIdentity[]>();
  const rowsWithoutEntry: RowIdentity[] = [];
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
    if (g !== undefined && gpxOwner.has(g)) {
      const owners = byGpx.get(g);
      if (owners) owners.push(r);
      else byGpx.set(g, [r]);
    } else rowsWithoutEntry.push(r);
  }
  return {
    zipId: sha256Hex(cardio.bytes).slice(0, 16),
    cardioName: cardio.name,
    identities,
    entries,
    byGpx,
    gpxOwner,
    rowsWithoutEntry,
  };
}

/** Pass 2 over a subset of a plan: each method handles one entry or row, completely. */
export class ZipImportRun {
  readonly #store: ObjectStore;
  readonly #userId: string;
  readonly #plan: ZipPlan;
  readonly #lim: ZipLimits;
  readonly tally: RunTally;
  /** A failed write throws (a slice is retried whole) instead of becoming a report error. */
  readonly #retryable: boolean;

  constructor(
    store: ObjectStore,
    userId: string,
    plan: ZipPlan,
    lim: ZipLimits,
    t: RunTally,
    opts: { throwOnWriteError?: boolean } = {},
  ) {
    this.#store = store;
    this.#userId = userId;
    this.#plan = plan;
    this.#lim = lim;
    this.tally = t;
    this.#retryable = opts.throwOnWriteError === true;
  }

  /** One planned entry: keep the original; a GPX also stores the activities it belongs to. */
  async entry(e: ZipEntry, planned: PlannedEntry): Promise<void> {
    const t = this.tally;
    const b = base(e.name);
    const gpx = e.name.toLowerCase().endsWith('.gpx');
    const owners = gpx && this.#plan.gpxOwner.get(b) === planned.ordinal;
    const rows = owners ? (this.#plan.byGpx.get(b) ?? []) : [];
    const bytes = await readCapped(e, this.#lim, t.errors);
    if (!bytes) {
      t.skipped++;
      for (const r of rows) await this.rowWithoutEntry(r);
      return;
    }
    try {
      await this.#store.put(
        `raw/${this.#userId}/export/${this.#plan.zipId}/${planned.suffix}`,
        bytes,
        contentTypeOf(e.name),
      );
      t.originals++;
    } catch (err) {
      if (this.#retryable) throw err;
      t.errors.push({ entry: e.name, reason: `original not stored: ${describeError(err)}` });
    }
    if (!gpx || !owners) return;
    if (rows.length === 0) {
      t.notices.push({
        entry: e.name,
        reason: 'GPX file not referenced by cardioActivities.csv (kept under export/)',
      });
      return;
    }
    let parsed: ParsedGpx | undefined;
    if (bytes.byteLength > this.#lim.maxGpxBytes) {
      t.errors.push({
        entry: e.name,
        reason: `GPX larger than ${this.#lim.maxGpxBytes} bytes: kept, activity imported without path`,
      });
    } else {
      try {
        parsed = parseExportGpx(bytes);
      } catch (err) {
        t.errors.push({
          entry: e.name,
          reason: `${err instanceof Error ? err.message : String(err)}: imported without path`,
        });
      }
    }
    for (const r of rows) await this.activity(r, parsed);
  }

  /** A row whose GPX is absent or unreadable: imported without path (said so if it had one). */
  async rowWithoutEntry(r: RowIdentity): Promise<void> {
    if (r.row.gpxFile) {
      this.tally.errors.push({
        entry: this.#plan.cardioName,
        line: r.row.line,
        reason: `GPX file "${r.row.gpxFile}" not usable: imported without path`,
      });
    }
    await this.activity(r, undefined);
  }

  async activity(r: RowIdentity, gpx: ParsedGpx | undefined): Promise<void> {
    const t = this.tally;
    const { row, id } = r;
    const act = toApiShapedActivity(row, gpx, id);
    const key = `raw/${this.#userId}/fitnessActivities/${id}.json`;
    let put: { written: boolean };
    let existed: boolean;
    try {
      existed = (await this.#store.hash(key)) !== undefined;
      put = await this.#store.put(key, enc.encode(JSON.stringify(act)), 'application/json');
    } catch (e) {
      // A slice is retried whole; in one run (the CLI) one activity that cannot be stored never
      // stops the others.
      if (this.#retryable) throw e;
      const reason = `not stored: ${describeError(e)}`;
      t.errors.push({ entry: this.#plan.cardioName, line: row.line, reason });
      t.items.push({
        line: row.line,
        outcome: 'skipped',
        id,
        date: row.date,
        type: row.type,
        reason,
      });
      return;
    }
    if (put.written) t.written++;
    else t.unchanged++;
    t.activities++;
    t.items.push({
      line: row.line,
      outcome: put.written ? (existed ? 'updated' : 'new') : 'unchanged',
      id,
      date: row.date,
      type: row.type,
    });
    try {
      await writeDerived(this.#store, this.#userId, act, { source: 'zip' });
    } catch (e) {
      if (this.#retryable) throw e;
      t.errors.push({
        entry: this.#plan.cardioName,
        line: row.line,
        reason: `derived files not rendered: ${String(e)}`,
      });
    }
  }
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
