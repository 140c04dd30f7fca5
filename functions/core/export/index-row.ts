/**
 * The per-activity index row and `renderAll`, the one function the CLI and the Lambda call
 * to turn one raw activity into every derived file.
 */
import { createHash } from 'node:crypto';
import { derivedKey, type ItemRef, rawKey } from '../keys.ts';
import { type Activity, normalizeActivity } from './activity.ts';
import { renderGeoJson } from './geojson.ts';
import { renderGpx } from './gpx.ts';
import { renderTcx } from './tcx.ts';
import { effectiveOffsetHours } from './time.ts';

export type RowSource = 'api' | 'zip' | 'api+zip';

/** `source` value of activities built from Runkeeper's export ZIP. */
export const ZIP_SOURCE = 'RunKeeper export';

export interface IndexRow {
  id: string;
  source: RowSource;
  utcStart: string | undefined;
  localStart: string;
  /** Offset (hours) used for utcStart: the API's, else the GPS zone's. */
  utcOffset: number | undefined;
  timeZone: string | undefined;
  type: string;
  distanceMeters: number;
  durationSeconds: number;
  movingSeconds: number;
  elapsedSeconds: number;
  calories: number | undefined;
  averageHeartRate: number | undefined;
  climbMeters: number | undefined;
  entryMode: string | undefined;
  hasPath: boolean;
  deleted: boolean;
  keys: { raw: string; gpx?: string; tcx?: string; geojson?: string };
  flags: string[];
  /** The user's own words: route name (export CSV `Route Name`) and notes, when present. */
  name: string | undefined;
  notes: string | undefined;
}

export const CSV_HEADER =
  'id,source,utcStart,localStart,utcOffset,timeZone,type,distanceMeters,durationSeconds,' +
  'movingSeconds,elapsedSeconds,calories,averageHeartRate,climbMeters,entryMode,hasPath,' +
  'deleted,rawKey,gpxKey,tcxKey,geojsonKey,flags,name,notes';

/** Text a spreadsheet would run as a formula (OWASP CSV injection): = + - @ tab CR first. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * RFC 4180 field: quoted when it holds a comma, quote, CR or LF; quotes doubled. Every text
 * cell that a spreadsheet would evaluate (from the API's `type`/`entry_mode`, a ZIP's Type
 * column, any later text column) is neutralised the way OWASP recommends: prefixed with `'`
 * and quoted. Numbers are written as they are (a negative offset stays `-4`); the NDJSON
 * index keeps the exact value.
 */
export function csvField(v: string | number | boolean | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'string' && FORMULA_START.test(v)) return `"'${v.replace(/"/g, '""')}"`;
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const num = (n: number | undefined, d = 3) =>
  n === undefined ? undefined : Math.round(n * 10 ** d) / 10 ** d;

/** One CSV line (no line terminator) in CSV_HEADER's column order. */
export function toCsvLine(row: IndexRow): string {
  return [
    row.id,
    row.source,
    row.utcStart,
    row.localStart,
    num(row.utcOffset, 4),
    row.timeZone,
    row.type,
    num(row.distanceMeters),
    num(row.durationSeconds),
    num(row.movingSeconds),
    num(row.elapsedSeconds),
    num(row.calories),
    num(row.averageHeartRate),
    num(row.climbMeters),
    row.entryMode,
    row.hasPath,
    row.deleted,
    row.keys.raw,
    row.keys.gpx,
    row.keys.tcx,
    row.keys.geojson,
    row.flags.join(';'),
    row.name,
    row.notes,
  ]
    .map(csvField)
    .join(',');
}

/** One NDJSON line (no line terminator). */
export function toNdjsonLine(row: IndexRow): string {
  return JSON.stringify(row);
}

export interface RenderOptions {
  /** Overrides the source derived from the raw `source` field (e.g. 'api+zip' after a match). */
  source?: RowSource;
  deleted?: boolean;
}

export interface RenderedFile {
  key: string;
  body: string;
  contentType: string;
}

export const CONTENT_TYPES = {
  gpx: 'application/gpx+xml',
  tcx: 'application/vnd.garmin.tcx+xml',
  geojson: 'application/geo+json',
} as const;

/** What the index takes from the raw document beyond the normalized activity (ZIP imports). */
export interface RawExtras {
  name?: string | undefined;
  flags?: string[];
}

/** Route name and the GPX time correction an imported activity records under `rk_export`. */
export function rawExtras(raw: unknown): RawExtras {
  const rk = (raw as { rk_export?: Record<string, unknown> } | null)?.rk_export;
  if (typeof rk !== 'object' || rk === null) return {};
  const name =
    typeof rk.route_name === 'string' && rk.route_name !== '' ? rk.route_name : undefined;
  return {
    name,
    flags: rk.gpx_time_fix === 'local-time-as-utc' ? ['gpx-local-time-as-utc'] : [],
  };
}

export function indexRow(
  userId: string,
  act: Activity,
  keys: IndexRow['keys'],
  opts: RenderOptions = {},
  extras: RawExtras = {},
): IndexRow {
  return {
    id: act.id,
    source: opts.source ?? (act.source === ZIP_SOURCE ? 'zip' : 'api'),
    utcStart: act.start.utc,
    localStart: act.start.local,
    utcOffset: effectiveOffsetHours(act.start),
    timeZone: act.start.zone,
    type: act.type,
    distanceMeters: act.totals.distanceMeters,
    durationSeconds: act.totals.durationSeconds,
    movingSeconds: act.movingSeconds,
    elapsedSeconds: act.elapsedSeconds,
    calories: act.totals.calories,
    averageHeartRate: act.totals.averageHeartRate,
    climbMeters: act.totals.climbMeters,
    entryMode: act.entryMode,
    hasPath: act.hasPath,
    deleted: opts.deleted ?? false,
    keys: { ...keys, raw: keys.raw || rawKey(userId, { feed: 'fitnessActivities', id: act.id }) },
    flags: [...new Set([...act.start.flags, ...act.flags, ...(extras.flags ?? [])])],
    name: extras.name,
    notes: act.notes,
  };
}

/**
 * Every derived file for one raw activity, plus its index row. Throws InvalidPayloadError
 * (from normalizeActivity) when the raw JSON has no usable uri/start_time.
 */
export function renderAll(
  userId: string,
  raw: unknown,
  opts: RenderOptions = {},
): { files: RenderedFile[]; row: IndexRow } {
  const act = normalizeActivity(raw);
  const ref: ItemRef = { feed: 'fitnessActivities', id: act.id };
  const keys: IndexRow['keys'] = { raw: rawKey(userId, ref) };
  const files: RenderedFile[] = [];
  const gpx = renderGpx(act);
  if (gpx !== undefined) {
    keys.gpx = derivedKey('gpx', userId, ref, 'gpx');
    files.push({ key: keys.gpx, body: gpx, contentType: CONTENT_TYPES.gpx });
  }
  keys.tcx = derivedKey('tcx', userId, ref, 'tcx');
  files.push({ key: keys.tcx, body: renderTcx(act), contentType: CONTENT_TYPES.tcx });
  keys.geojson = derivedKey('geojson', userId, ref, 'geojson');
  files.push({
    key: keys.geojson,
    body: JSON.stringify(renderGeoJson(act)),
    contentType: CONTENT_TYPES.geojson,
  });
  return { files, row: indexRow(userId, act, keys, opts, rawExtras(raw)) };
}

/** Manifest line for a stored file: SHA-256 (hex) and byte size of its UTF-8 body. */
export function manifestEntry(
  key: string,
  bytes: Uint8Array | string,
): { key: string; sha256: string; size: number } {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return { key, sha256: createHash('sha256').update(buf).digest('hex'), size: buf.byteLength };
}
