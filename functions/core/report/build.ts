/**
 * `report/{userId}/index.html` from the archive, through the ObjectStore port (the same code
 * for the CLI and the scheduler Lambda): the index rows say what exists (merged API + ZIP,
 * deleted ones left out), each raw document gives the route, series and notes.
 */
import { describeError } from '../errors.ts';
import { buildIndex, mapLimit, READ_CONCURRENCY } from '../export/derive.ts';
import type { IndexRow } from '../export/index-row.ts';
import { assertUserId } from '../keys.ts';
import type { Log, ObjectStore } from '../ports.ts';
import { assignRegions, highlightsOf, totalsOf } from './aggregate.ts';
import { packBlock, type ReportPage, reportHtml } from './html.ts';
import { PAGE } from './page.generated.ts';
import { trackOf } from './streams.ts';
import { activityDetail, routeOf, SKETCH_POINTS, startPosition } from './track.ts';
import type { ReportActivity, ReportData, RouteSketches } from './types.ts';

const dec = new TextDecoder();
const enc = new TextEncoder();

export function reportKey(userId: string): string {
  return `report/${assertUserId(userId)}/index.html`;
}

export interface ReportOptions {
  /** ISO time stamped into the page. */
  now: string;
  /** Tile URL template ({z}/{x}/{y}) for an optional background map; off by default. */
  tiles?: string | undefined;
  log?: Log;
  /** The page bundle (tests may pass another). */
  page?: ReportPage;
  /** Where raw documents are prepared (default: in this thread; the CLI uses worker threads). */
  prepare?: Prepare;
}

export interface ReportResult {
  key: string;
  activities: number;
  withDetail: number;
  bytes: number;
  /** Raw documents that could not be read (the row is still listed). */
  unreadable: number;
}

const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/** What the report needs from one raw document (small; may be computed in a worker thread). */
export interface PreparedActivity {
  /** The raw document's route name (ZIP imports: rk_export.route_name) and notes. */
  name?: string;
  notes?: string;
  /** The packed detail block, when the activity has a route or samples. */
  block?: string;
  sketch: number[][];
  start?: { lat: number; lon: number };
}

/** One raw document → its report parts. Throws on bytes that are not a JSON object. */
export function prepareActivity(bytes: Uint8Array): PreparedActivity {
  const raw = JSON.parse(dec.decode(bytes)) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) throw new Error('raw document is not an object');
  const track = trackOf(raw);
  const detail = activityDetail(track);
  const exp = raw.rk_export as Record<string, unknown> | undefined;
  const out: PreparedActivity = { sketch: routeOf(track.segments, 25, SKETCH_POINTS) };
  const name = str(raw.name) ?? str(exp?.route_name);
  const notes = str(raw.notes);
  const start = startPosition(track);
  if (name !== undefined) out.name = name;
  if (notes !== undefined) out.notes = notes;
  if (detail) out.block = packBlock(detail);
  if (start) out.start = start;
  return out;
}

export type Prepare = (bytes: Uint8Array) => Promise<PreparedActivity>;
const inProcess: Prepare = async (bytes) => prepareActivity(bytes);

const rel = (key: string) => `../../${key}`;

async function readRows(store: ObjectStore, userId: string): Promise<IndexRow[]> {
  const key = `index/${userId}/activities.ndjson`;
  let bytes = await store.get(key);
  if (!bytes) {
    await buildIndex(store, userId);
    bytes = await store.get(key);
  }
  const rows: IndexRow[] = [];
  for (const line of dec.decode(bytes ?? new Uint8Array()).split('\n')) {
    if (!line.trim()) continue;
    try {
      rows.push(JSON.parse(line) as IndexRow);
    } catch {
      // a damaged line: `rk-sync export` rebuilds the index
    }
  }
  return rows.filter((r) => !r.deleted);
}

async function fitKeys(store: ObjectStore, userId: string): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const k of store.list(`fit/${userId}/fitnessActivities/`)) keys.add(k);
  return keys;
}

/** Builds the report's HTML (not stored). */
export async function renderReport(
  store: ObjectStore,
  userId: string,
  opts: ReportOptions,
): Promise<{ html: string; result: Omit<ReportResult, 'bytes'> }> {
  assertUserId(userId);
  const rows = await readRows(store, userId);
  const fits = await fitKeys(store, userId);
  let unreadable = 0;
  const prepare = opts.prepare ?? inProcess;
  const built = await mapLimit(rows, READ_CONCURRENCY, async (row) => {
    let prep: PreparedActivity | undefined;
    try {
      const bytes = await store.get(row.keys.raw);
      if (bytes) prep = await prepare(bytes);
    } catch (e) {
      opts.log?.warn('report: raw document not readable', {
        key: row.keys.raw,
        error: describeError(e),
      });
    }
    if (!prep) unreadable++;
    const fitKey = `fit/${userId}/fitnessActivities/${row.id}.fit`;
    const a: ReportActivity = {
      id: row.id,
      source: row.source,
      local: row.localStart,
      type: row.type,
      distance: row.distanceMeters,
      moving: row.durationSeconds,
      elapsed: row.elapsedSeconds,
      files: {
        raw: rel(row.keys.raw),
        ...(row.keys.gpx ? { gpx: rel(row.keys.gpx) } : {}),
        ...(row.keys.tcx ? { tcx: rel(row.keys.tcx) } : {}),
        ...(row.keys.geojson ? { geojson: rel(row.keys.geojson) } : {}),
        ...(fits.has(fitKey) ? { fit: rel(fitKey) } : {}),
      },
      detail: prep?.block !== undefined,
    };
    if (row.timeZone) a.zone = row.timeZone;
    if (row.utcStart) a.utc = row.utcStart;
    if (row.climbMeters !== undefined && row.climbMeters !== null) a.climb = row.climbMeters;
    if (row.averageHeartRate !== undefined && row.averageHeartRate !== null)
      a.heartRate = row.averageHeartRate;
    if (row.calories !== undefined && row.calories !== null) a.calories = row.calories;
    // Route name and notes: the index row's when it has them, else the raw document's.
    const r = row as IndexRow & { name?: unknown; notes?: unknown };
    const name = str(r.name) ?? prep?.name;
    const notes = str(r.notes) ?? prep?.notes;
    if (name !== undefined) a.name = name;
    if (notes !== undefined) a.notes = notes;
    return { a, block: prep?.block, sketch: prep?.sketch ?? [], start: prep?.start };
  });
  const activities = built.map((b) => b.a);
  const starts = new Map<string, { lat: number; lon: number }>();
  const sketches: RouteSketches = {};
  for (const b of built) {
    if (b.start) starts.set(b.a.id, b.start);
    if (b.sketch.length > 0) sketches[b.a.id] = b.sketch;
  }
  const regions = assignRegions(activities, starts);
  const data: ReportData = {
    userId,
    generatedAt: opts.now,
    ...(opts.tiles ? { tiles: opts.tiles } : {}),
    activities,
    ...totalsOf(activities),
    highlights: highlightsOf(activities),
    regions,
  };
  const blocks = built.flatMap((b) => (b.block ? [[b.a.id, b.block] as [string, string]] : []));
  const html = reportHtml(opts.page ?? PAGE, data, blocks, packBlock(sketches));
  return {
    html,
    result: {
      key: reportKey(userId),
      activities: activities.length,
      withDetail: blocks.length,
      unreadable,
    },
  };
}

/** Builds and stores `report/{userId}/index.html`. */
export async function buildReport(
  store: ObjectStore,
  userId: string,
  opts: ReportOptions,
): Promise<ReportResult> {
  const { html, result } = await renderReport(store, userId, opts);
  const bytes = enc.encode(html);
  await store.put(result.key, bytes, 'text/html; charset=utf-8');
  return { ...result, bytes: bytes.byteLength };
}
