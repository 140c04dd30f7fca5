/**
 * A normalized, read-only view of one raw fitness activity (Health Graph §5).
 *
 * The raw JSON stays the source of truth; this view is recomputed from it whenever a
 * derived file is rendered. Parsing is tolerant: numbers may arrive as numeric strings,
 * booleans as "true"/"false", unknown fields are ignored, and a malformed sample is
 * dropped instead of failing the whole activity. Only a missing/unusable `uri` or
 * `start_time` makes the activity unusable (InvalidPayloadError).
 */
import * as z from 'zod/mini';
import { InvalidPayloadError } from '../errors.ts';
import { parseItemUri } from '../keys.ts';
import { computeStartTime, type StartTime } from './time.ts';

export interface PathPoint {
  /** Seconds since the activity start, pauses included. */
  t: number;
  lat: number;
  lon: number;
  /** Metres; undefined when absent. `0` is kept as given (Runkeeper also uses it for "unknown"). */
  alt: number | undefined;
  /** start | end | gps | pause | resume | manual (open string). */
  type: string;
}

export interface Sample {
  t: number;
  v: number;
}

/** One moving part of the path: the points between a start/resume and the next pause/end. */
export interface Segment {
  points: PathPoint[];
  /** Timestamp of the first and last point (seconds since start). */
  start: number;
  end: number;
  /** end − start, seconds. */
  duration: number;
}

export interface Activity {
  id: string;
  uri: string;
  type: string;
  secondaryType: string | undefined;
  notes: string | undefined;
  equipment: string | undefined;
  source: string | undefined;
  entryMode: string | undefined;
  trackingMode: string | undefined;
  isLive: boolean;
  /** The raw `start_time` string (local wall clock, no zone). */
  startTime: string;
  /** `utc_offset` in hours when present (may be fractional for imported activities). */
  utcOffset: number | undefined;
  /** Local/UTC start and zone, per the rules in time.ts. */
  start: StartTime;
  /** UTC start in epoch ms, when known. Point times are startMs + t·1000. */
  startMs: number | undefined;
  /** `has_path` when given, else whether a usable path exists. */
  hasPath: boolean;
  /** Path points in time order; 0/0 ("no fix") and out-of-range points removed. */
  path: PathPoint[];
  heartRate: Sample[];
  distance: Sample[];
  calories: Sample[];
  totals: {
    distanceMeters: number;
    /** `duration` as given: moving time per §5.5. */
    durationSeconds: number;
    calories: number | undefined;
    climbMeters: number | undefined;
    averageHeartRate: number | undefined;
  };
  segments: Segment[];
  /** Sum of segment durations. 0 without a path. */
  movingSeconds: number;
  /** Last timestamp of the path or of any sample stream; falls back to `duration`. */
  elapsedSeconds: number;
  /** Parse notes, e.g. `type-missing`, `duration-missing`, `points-dropped`. */
  flags: string[];
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A finite number, or a numeric string; anything else → undefined. */
export function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && NUMERIC.test(v.trim())) {
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

export function toBoolean(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  return undefined;
}

// Fields are optional and never fail: a value of the wrong kind reads as absent.
const num = z.optional(z.pipe(z.unknown(), z.transform(toNumber)));
const bool = z.optional(z.pipe(z.unknown(), z.transform(toBoolean)));
const str = z.optional(
  z.pipe(
    z.unknown(),
    z.transform((v) => (typeof v === 'string' ? v : undefined)),
  ),
);
const list = z.pipe(
  z.optional(z.unknown()),
  z.transform((v) => (Array.isArray(v) ? (v as unknown[]) : [])),
);

const RawActivity = z.looseObject({
  uri: str,
  type: str,
  secondary_type: str,
  notes: str,
  equipment: str,
  source: str,
  entry_mode: str,
  tracking_mode: str,
  start_time: str,
  utc_offset: num,
  total_distance: num,
  duration: num,
  total_calories: num,
  climb: num,
  average_heart_rate: num,
  has_path: bool,
  has_map: bool,
  is_live: bool,
  path: list,
  heart_rate: list,
  distance: list,
  calories: list,
});

const RawPoint = z.looseObject({
  timestamp: num,
  latitude: num,
  longitude: num,
  altitude: num,
  type: str,
});

export function samples(items: unknown[], field: string): Sample[] {
  const out: Sample[] = [];
  for (const item of items) {
    if (typeof item !== 'object' || item === null) continue;
    const rec = item as Record<string, unknown>;
    const t = toNumber(rec.timestamp);
    const v = toNumber(rec[field]);
    if (t === undefined || v === undefined || t < 0) continue;
    out.push({ t, v });
  }
  // Stable sort: equal timestamps keep their order.
  return out.sort((a, b) => a.t - b.t);
}

function validPosition(lat: number, lon: number): boolean {
  if (lat === 0 && lon === 0) return false;
  return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180;
}

interface RawPathPoint {
  t: number;
  lat: number | undefined;
  lon: number | undefined;
  alt: number | undefined;
  type: string;
}

/**
 * Splits the path at pause/resume. Rules:
 * - a segment starts at `start`/`resume` (or at the first point), ends at `pause`/`end`;
 * - a `pause` point closes the current segment and belongs to it when it has a position
 *   and the segment already has points;
 *   consecutive pauses (and points recorded while paused, other than resume/start) are ignored;
 * - `resume`/`start` while moving are treated as ordinary points;
 * - points without a valid position (0/0, out of range) never appear in a segment, but their
 *   pause/resume meaning still counts;
 * - segments left without any point are dropped.
 */
export function splitSegments(points: readonly RawPathPoint[]): Segment[] {
  const segments: Segment[] = [];
  let current: PathPoint[] = [];
  let moving = true;
  const close = () => {
    if (current.length > 0) {
      const start = current[0]!.t;
      const end = current[current.length - 1]!.t;
      segments.push({ points: current, start, end, duration: Math.max(0, end - start) });
    }
    current = [];
  };
  const add = (p: RawPathPoint) => {
    if (p.lat === undefined || p.lon === undefined || !validPosition(p.lat, p.lon)) return;
    current.push({ t: p.t, lat: p.lat, lon: p.lon, alt: p.alt, type: p.type });
  };
  for (const p of points) {
    if (p.type === 'pause') {
      if (moving) {
        if (current.length > 0) add(p); // a pause with nothing moving before it adds no point
        close();
        moving = false;
      }
      continue;
    }
    if (!moving) {
      if (p.type !== 'resume' && p.type !== 'start') continue;
      moving = true;
    }
    add(p);
    if (p.type === 'end') {
      close();
      moving = false;
    }
  }
  close();
  return segments;
}

/** Normalizes a raw fitness activity. Throws InvalidPayloadError when `uri` or `start_time` is unusable. */
export function normalizeActivity(raw: unknown): Activity {
  const parsed = RawActivity.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidPayloadError('activity is not a JSON object', safeStringify(raw));
  }
  const a = parsed.data;
  if (!a.uri) throw new InvalidPayloadError('activity has no uri', safeStringify(raw));
  let id: string;
  try {
    const ref = parseItemUri(a.uri);
    if (ref.feed !== 'fitnessActivities') throw new Error('not a fitness activity');
    id = ref.id;
  } catch {
    throw new InvalidPayloadError(
      'activity uri is not /fitnessActivities/<id>',
      safeStringify(raw),
    );
  }
  if (!a.start_time)
    throw new InvalidPayloadError('activity has no start_time', safeStringify(raw));

  const flags: string[] = [];
  const rawPoints: RawPathPoint[] = [];
  for (const item of a.path) {
    const p = RawPoint.safeParse(item);
    if (!p.success || p.data.timestamp === undefined || p.data.timestamp < 0) {
      flags.push('path-point-invalid');
      continue;
    }
    rawPoints.push({
      t: p.data.timestamp,
      lat: p.data.latitude,
      lon: p.data.longitude,
      alt: p.data.altitude,
      type: (p.data.type ?? 'gps').toLowerCase(),
    });
  }
  rawPoints.sort((x, y) => x.t - y.t);
  const path: PathPoint[] = [];
  for (const p of rawPoints) {
    if (p.lat !== undefined && p.lon !== undefined && validPosition(p.lat, p.lon)) {
      path.push({ t: p.t, lat: p.lat, lon: p.lon, alt: p.alt, type: p.type });
    }
  }
  if (path.length < rawPoints.length) flags.push('points-without-position');
  const segments = splitSegments(rawPoints);
  const first = path[0];
  const start = computeStartTime(a.start_time, a.utc_offset, first);
  if (!start) {
    throw new InvalidPayloadError('activity start_time is not parseable', safeStringify(raw));
  }

  const heartRate = samples(a.heart_rate, 'heart_rate').filter((s) => s.v > 0 && s.v < 256);
  const distance = samples(a.distance, 'distance');
  const calories = samples(a.calories, 'calories');

  if (!a.type) flags.push('type-missing');
  if (a.duration === undefined) flags.push('duration-missing');
  if (a.total_distance === undefined) flags.push('distance-missing');

  const movingSeconds = segments.reduce((s, seg) => s + seg.duration, 0);
  const lastT = Math.max(
    rawPoints.at(-1)?.t ?? 0,
    heartRate.at(-1)?.t ?? 0,
    distance.at(-1)?.t ?? 0,
    calories.at(-1)?.t ?? 0,
  );
  const durationSeconds = a.duration ?? (movingSeconds || lastT);
  const elapsedSeconds = lastT > 0 ? lastT : durationSeconds;

  const hrAvg =
    a.average_heart_rate ??
    (heartRate.length > 0
      ? Math.round(heartRate.reduce((s, x) => s + x.v, 0) / heartRate.length)
      : undefined);

  return {
    id,
    uri: a.uri,
    type: a.type ?? 'Other',
    secondaryType: a.secondary_type,
    notes: a.notes === '' ? undefined : a.notes,
    equipment: a.equipment,
    source: a.source,
    entryMode: a.entry_mode,
    trackingMode: a.tracking_mode,
    isLive: a.is_live ?? false,
    startTime: a.start_time,
    utcOffset: a.utc_offset,
    start,
    startMs: start.utc === undefined ? undefined : Date.parse(start.utc),
    hasPath: a.has_path ?? a.has_map ?? path.length > 0,
    path,
    heartRate,
    distance,
    calories,
    totals: {
      distanceMeters: a.total_distance ?? distance.at(-1)?.v ?? 0,
      durationSeconds,
      calories: a.total_calories,
      climbMeters: a.climb,
      averageHeartRate: hrAvg,
    },
    segments,
    movingSeconds,
    elapsedSeconds,
    flags: [...new Set(flags)],
  };
}

/**
 * Linear interpolation of a sample stream at `t`. Outside the stream, or across a gap
 * longer than `maxGap` seconds, the nearest sample within `maxGap` is used; else undefined.
 */
export function valueAt(stream: readonly Sample[], t: number, maxGap = 30): number | undefined {
  if (stream.length === 0) return undefined;
  let lo = 0;
  let hi = stream.length - 1;
  const first = stream[0]!;
  const last = stream[hi]!;
  if (t <= first.t) return first.t - t <= maxGap ? first.v : undefined;
  if (t >= last.t) return t - last.t <= maxGap ? last.v : undefined;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (stream[mid]!.t <= t) lo = mid;
    else hi = mid;
  }
  const a = stream[lo]!;
  const b = stream[hi]!;
  if (b.t - a.t > maxGap) {
    const near = t - a.t <= b.t - t ? a : b;
    return Math.abs(near.t - t) <= maxGap ? near.v : undefined;
  }
  if (b.t === a.t) return b.v;
  return a.v + ((b.v - a.v) * (t - a.t)) / (b.t - a.t);
}

/** Great-circle distance in metres (haversine, mean Earth radius). */
export function haversine(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Cumulative distance (metres) at time t: from the `distance` stream when present, else
 * from the path geometry (summed within segments, pauses contribute nothing).
 */
/** The total distance when the source has one (a total or a distance stream), else undefined. */
export function knownDistance(act: Activity): number | undefined {
  return act.flags.includes('distance-missing') && act.distance.length === 0
    ? undefined
    : act.totals.distanceMeters;
}

export function distanceFn(act: Activity): (t: number) => number | undefined {
  if (act.distance.length > 0) {
    return (t) => valueAt(act.distance, t, Number.POSITIVE_INFINITY);
  }
  const cum: Sample[] = [];
  let total = 0;
  for (const seg of act.segments) {
    let prev: PathPoint | undefined;
    for (const p of seg.points) {
      if (prev) total += haversine(prev.lat, prev.lon, p.lat, p.lon);
      cum.push({ t: p.t, v: total });
      prev = p;
    }
  }
  if (cum.length === 0) return () => undefined;
  return (t) => valueAt(cum, t, Number.POSITIVE_INFINITY);
}

function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
