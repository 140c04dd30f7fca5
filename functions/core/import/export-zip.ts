/**
 * Runkeeper's own export ZIP (Account settings → Export data), see export-zip-format.md.
 *
 * Pure parsing: callers feed entries from any (streaming) unzipper; nothing here touches
 * the file system. Every problem becomes a report entry; nothing throws on hostile input.
 *
 * Synthetic ids. ZIP rows carry a UUID `Activity Id`, not the numeric API id, but the
 * exporters and key layout need a numeric id (≤ 20 digits). The scheme:
 *   id = "9" + the first 15 hex digits of the UUID (hyphens removed) as a decimal number,
 *        left-padded with zeros to 19 digits → always exactly 20 digits, starting with 9.
 * An `Activity Id` that is not a 32-hex-digit UUID (or is missing) uses the first 15 hex
 * digits of SHA-256 of its text (or, when empty, of the row key ./identity.ts chooses:
 * `Date|Type|Distance`, plus the whole row when other rows share that key) instead.
 * 15 hex digits < 16^15 ≈ 1.15·10^18 < 10^19, so the padding never overflows. Real API ids
 * are far shorter (9–10 digits), so a 20-digit id beginning with 9 cannot collide with one.
 * Only byte-identical rows share an id (./identity.ts): they are one activity.
 */
import { createHash } from 'node:crypto';
import { parse as parseCsvSync } from 'csv-parse/sync';
import { haversine } from '../export/activity.ts';
import {
  formatLocal,
  formatStartTime,
  isoUtc,
  parseLocalIso,
  type WallClock,
} from '../export/time.ts';
import { gpxClock, LOCAL_TIME_AS_UTC } from './gpx-clock.ts';
import type { GpxPoint, ParsedGpx } from './gpx-stream.ts';

// ---------------------------------------------------------------------------------------
// cardioActivities.csv

export interface CardioRow {
  /** 1-based line on which the record ends in the CSV text. */
  line: number;
  /** Every field of the record as written (joined by U+001F): a row's content identity. */
  record: string;
  activityId: string;
  /** Local wall clock `YYYY-MM-DDTHH:mm:ss`. */
  date: string;
  type: string;
  routeName: string | undefined;
  distanceMeters: number | undefined;
  durationSeconds: number | undefined;
  /** Seconds per km (converted from per mile when the file is in miles). */
  averagePaceSecondsPerKm: number | undefined;
  averageSpeedMps: number | undefined;
  calories: number | undefined;
  climbMeters: number | undefined;
  averageHeartRate: number | undefined;
  friendsTagged: string | undefined;
  notes: string | undefined;
  gpxFile: string | undefined;
}

export interface ImportError {
  entry?: string;
  line?: number;
  reason: string;
}

const MILE = 1609.344;
const FOOT = 0.3048;

/** `mm:ss`, `h:mm:ss` or plain seconds → seconds. */
export function parseDuration(s: string): number | undefined {
  const t = s.trim();
  if (t === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const m = /^(?:(\d+):)?(\d{1,3}):(\d{1,2}(?:\.\d+)?)$/.exec(t);
  if (!m) return undefined;
  const secs = Number(m[3]);
  if (secs >= 60 || (m[1] !== undefined && Number(m[2]) >= 60)) return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + secs;
}

function parseNum(s: string | undefined): number | undefined | 'bad' {
  if (s === undefined) return undefined;
  const t = s.trim().replace(/,/g, '');
  if (t === '') return undefined;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(t)) return 'bad';
  return Number(t);
}

type Unit = 'mi' | 'km' | 'ft' | 'm' | 'mph' | 'km/h' | undefined;
interface Columns {
  activityId?: number;
  date?: number;
  type?: number;
  routeName?: number;
  distance?: { i: number; unit: Unit };
  duration?: number;
  pace?: number;
  speed?: { i: number; unit: Unit };
  calories?: number;
  climb?: { i: number; unit: Unit };
  hr?: number;
  friends?: number;
  notes?: number;
  gpx?: number;
}

function mapHeader(header: readonly string[]): Columns {
  const c: Columns = {};
  header.forEach((raw, i) => {
    const h = raw.trim().toLowerCase().replace(/\s+/g, ' ');
    const unit = (/\(([^)]*)\)/.exec(h)?.[1]?.trim() ?? undefined) as Unit;
    const name = h.replace(/\s*\([^)]*\)\s*/, '').trim();
    switch (name) {
      case 'activity id':
        c.activityId = i;
        break;
      case 'date':
        c.date = i;
        break;
      case 'type':
        c.type = i;
        break;
      case 'route name':
        c.routeName = i;
        break;
      case 'distance':
        c.distance = { i, unit };
        break;
      case 'duration':
        c.duration = i;
        break;
      case 'average pace':
        c.pace = i;
        break;
      case 'average speed':
        c.speed = { i, unit };
        break;
      case 'calories burned':
      case 'calories':
        c.calories = i;
        break;
      case 'climb':
        c.climb = { i, unit };
        break;
      case 'average heart rate':
        c.hr = i;
        break;
      case "friend's tagged":
      case 'friends tagged':
        c.friends = i;
        break;
      case 'notes':
        c.notes = i;
        break;
      case 'gpx file':
        c.gpx = i;
        break;
    }
  });
  return c;
}

/**
 * Parses cardioActivities.csv by header name. Broken rows (wrong field count, bad date,
 * bad numbers, an unterminated quote) are reported with their line and skipped.
 */
export function parseCardioCsv(text: string): { rows: CardioRow[]; errors: ImportError[] } {
  const errors: ImportError[] = [];
  const records: { fields: string[]; line: number }[] = [];
  try {
    parseCsvSync(text, {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_skip: (err) => {
        errors.push({
          line: (err as { lines?: number } | undefined)?.lines,
          reason: `CSV syntax: ${err?.message ?? 'unknown'}`,
        });
        return undefined;
      },
      on_record: (record: string[], ctx) => {
        records.push({ fields: record, line: ctx.lines });
        return null;
      },
    });
  } catch (e) {
    const err = e as { message?: string; lines?: number };
    errors.push({ line: err.lines, reason: `CSV syntax: ${err.message ?? String(e)}` });
  }
  const head = records.shift();
  if (!head) {
    errors.push({ reason: 'CSV has no header row' });
    return { rows: [], errors };
  }
  const col = mapHeader(head.fields);
  if (col.date === undefined) {
    errors.push({ line: head.line, reason: 'CSV header has no "Date" column' });
    return { rows: [], errors };
  }
  const rows: CardioRow[] = [];
  for (const { fields, line } of records) {
    if (fields.length !== head.fields.length) {
      errors.push({
        line,
        reason: `expected ${head.fields.length} fields, found ${fields.length}`,
      });
      continue;
    }
    const get = (i: number | undefined) => {
      if (i === undefined) return undefined;
      const v = fields[i]?.trim();
      return v === '' ? undefined : v;
    };
    const problems: string[] = [];
    const number = (i: number | undefined, label: string) => {
      const v = parseNum(get(i));
      if (v === 'bad') {
        problems.push(`bad ${label} "${get(i)}"`);
        return undefined;
      }
      return v;
    };
    const dateText = get(col.date) ?? '';
    const w = parseLocalIso(dateText);
    if (!w) problems.push(`bad Date "${dateText}"`);
    const dist = number(col.distance?.i, 'Distance');
    const climb = number(col.climb?.i, 'Climb');
    const speed = number(col.speed?.i, 'Average Speed');
    const durationText = get(col.duration);
    const duration = durationText === undefined ? undefined : parseDuration(durationText);
    if (durationText !== undefined && duration === undefined) {
      problems.push(`bad Duration "${durationText}"`);
    }
    const paceText = get(col.pace);
    const pace = paceText === undefined ? undefined : parseDuration(paceText);
    const calories = number(col.calories, 'Calories Burned');
    const hr = number(col.hr, 'Average Heart Rate');
    if (problems.length > 0 || !w) {
      errors.push({ line, reason: problems.join('; ') });
      continue;
    }
    const miles = col.distance?.unit === 'mi';
    const rawId = get(col.activityId) ?? '';
    rows.push({
      line,
      record: fields.join('\u001f'),
      activityId: rawId,
      date: formatLocal(w),
      type: get(col.type) ?? 'Other',
      routeName: get(col.routeName),
      distanceMeters: dist === undefined ? undefined : dist * (miles ? MILE : 1000),
      durationSeconds: duration,
      averagePaceSecondsPerKm: pace === undefined ? undefined : miles ? pace / (MILE / 1000) : pace,
      averageSpeedMps:
        speed === undefined
          ? undefined
          : (speed * (col.speed?.unit === 'mph' ? MILE : 1000)) / 3600,
      calories,
      climbMeters: climb === undefined ? undefined : climb * (col.climb?.unit === 'ft' ? FOOT : 1),
      averageHeartRate: hr,
      friendsTagged: get(col.friends),
      notes: col.notes === undefined ? undefined : fields[col.notes] || undefined,
      gpxFile: get(col.gpx),
    });
  }
  errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { rows, errors };
}

// ---------------------------------------------------------------------------------------
// GPX files: ./gpx-stream.ts (a streaming SAX reader)

export { GpxParseError, type GpxPoint, type ParsedGpx, parseExportGpx } from './gpx-stream.ts';

// ---------------------------------------------------------------------------------------
// Synthetic ids and API-shaped activities

/** Synthetic API id for a ZIP row (see the scheme at the top of this file). */
export function syntheticId(activityId: string, fallbackSeed = ''): string {
  const compact = activityId.trim().toLowerCase().replace(/-/g, '');
  const hex = /^[0-9a-f]{32}$/.test(compact)
    ? compact.slice(0, 15)
    : createHash('sha256')
        .update(activityId.trim() || fallbackSeed)
        .digest('hex')
        .slice(0, 15);
  return `9${BigInt(`0x${hex}`).toString().padStart(19, '0')}`;
}

const optional = (k: string, v: unknown) => (v === undefined ? {} : { [k]: v });

/** True for ids produced by syntheticId. */
export function isSyntheticId(id: string): boolean {
  return /^9\d{19}$/.test(id);
}

/**
 * Builds a raw-like activity (Health Graph field names) from a CSV row and its GPX, so the
 * exporters work unchanged. The UTC start comes from ./gpx-clock.ts (CSV local start against
 * the first GPX time, with Runkeeper's local-time-as-UTC GPX bug detected and corrected);
 * without GPX times it is absent. Path timestamps are seconds since the UTC start. A value
 * the export lacks (elevation, heart rate, calories, climb, distance, duration) is left out,
 * never written as 0. `id` comes from ./identity.ts (assignIds); the default is the row's
 * own key.
 */
export function toApiShapedActivity(
  row: CardioRow,
  gpx?: ParsedGpx,
  id = syntheticId(row.activityId, `${row.date}|${row.type}|${row.distanceMeters ?? ''}`),
): Record<string, unknown> {
  const w = parseLocalIso(row.date) as WallClock; // row.date was validated by parseCardioCsv
  const clock = gpxClock(w, gpx);
  const offsetMs = clock?.offsetMs;
  const startUtc = clock?.startUtc;

  const path: Record<string, unknown>[] = [];
  const heartRate: Record<string, unknown>[] = [];
  const distance: Record<string, unknown>[] = [];
  if (gpx && startUtc !== undefined) {
    const segs = gpx.segments
      .map((s) => s.filter((p) => p.time !== undefined))
      .filter((s) => s.length > 0);
    let cum = 0;
    segs.forEach((seg, si) => {
      let prev: GpxPoint | undefined;
      seg.forEach((p, pi) => {
        const t = Math.round(((p.time! - clock!.gpxShiftMs - startUtc) / 1000) * 1000) / 1000;
        if (prev) cum += haversine(prev.lat, prev.lon, p.lat, p.lon);
        prev = p;
        const isFirst = si === 0 && pi === 0;
        const isLast = si === segs.length - 1 && pi === seg.length - 1;
        let type = 'gps';
        if (isFirst) type = 'start';
        else if (isLast) type = 'end';
        else if (pi === 0) type = 'resume';
        else if (pi === seg.length - 1) type = 'pause';
        path.push({
          timestamp: t,
          latitude: p.lat,
          longitude: p.lon,
          ...(p.ele === undefined ? {} : { altitude: p.ele }),
          type,
        });
        if (p.hr !== undefined) heartRate.push({ timestamp: t, heart_rate: Math.round(p.hr) });
        distance.push({ timestamp: t, distance: Math.round(cum * 100) / 100 });
      });
    });
  }
  const movingFromGpx = gpx?.segments.reduce<number | undefined>((s, seg) => {
    const a = seg.find((p) => p.time !== undefined)?.time;
    const b = seg.findLast((p) => p.time !== undefined)?.time;
    return a !== undefined && b !== undefined ? (s ?? 0) + (b - a) / 1000 : s;
  }, undefined);
  const hrAvg =
    row.averageHeartRate ??
    (heartRate.length > 0
      ? Math.round(heartRate.reduce((s, h) => s + (h.heart_rate as number), 0) / heartRate.length)
      : undefined);

  const act: Record<string, unknown> = {
    uri: `/fitnessActivities/${id}`,
    type: row.type,
    equipment: 'None',
    start_time: formatStartTime(w),
    ...(offsetMs === undefined ? {} : { utc_offset: offsetMs / 3_600_000 }),
    ...optional('total_distance', row.distanceMeters ?? distance.at(-1)?.distance),
    ...optional('duration', row.durationSeconds ?? movingFromGpx),
    ...(row.calories === undefined ? {} : { total_calories: row.calories }),
    ...(row.climbMeters === undefined ? {} : { climb: row.climbMeters }),
    ...(hrAvg === undefined ? {} : { average_heart_rate: hrAvg }),
    ...(row.notes === undefined ? {} : { notes: row.notes }),
    source: 'RunKeeper export',
    entry_mode: path.length > 0 ? 'API' : 'Web',
    has_path: path.length > 0,
    path,
    heart_rate: heartRate,
    distance,
    calories: [],
    images: [],
    rk_export: {
      activity_id: row.activityId,
      date: row.date,
      ...(startUtc === undefined ? {} : { utc_start: isoUtc(startUtc) }),
      ...(clock?.localTimeAsUtc ? { gpx_time_fix: LOCAL_TIME_AS_UTC } : {}),
      route_name: row.routeName ?? null,
      friends_tagged: row.friendsTagged ?? null,
      gpx_file: row.gpxFile ?? null,
      average_pace_s_per_km: row.averagePaceSecondsPerKm ?? null,
      average_speed_mps: row.averageSpeedMps ?? null,
    },
  };
  return act;
}

// ---------------------------------------------------------------------------------------
// Matching ZIP activities to API activities: ./match.ts (the index build needs it without
// the XML and CSV parsers this module brings).

export { type MatchCandidate, matchActivity, typeFamily } from './match.ts';

// ---------------------------------------------------------------------------------------
// Entry names, zip-bomb guards and the entry shape: ./zip-guards.ts

export {
  checkEntrySize,
  DEFAULT_ZIP_LIMITS,
  safeEntryName,
  type ZipEntry,
  type ZipLimits,
} from './zip-guards.ts';
