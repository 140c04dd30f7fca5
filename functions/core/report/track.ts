/**
 * One activity's detail for the report: its route simplified for display (simplify-js,
 * Ramer–Douglas–Peucker), chart series sampled over the moving parts with pauses as gaps,
 * and splits per km and per mile in moving time. Pure: a Track (streams.ts) in, small arrays out.
 */
import simplify from 'simplify-js';
import { haversine, type PathPoint, type Segment, valueAt } from '../export/activity.ts';
import type { Track } from './streams.ts';
import type { ActivityDetail } from './types.ts';

/** Chart samples per activity (the page draws a few hundred pixels wide). */
export const CHART_POINTS = 200;
/** Route points per activity at most, and for the all-routes sketch. */
export const ROUTE_POINTS = 250;
export const SKETCH_POINTS = 40;
const METRES_PER_DEGREE = 111_320;
export const MILE = 1609.344;

const E5 = 1e5;

interface XY {
  x: number;
  y: number;
  p: PathPoint;
}

/**
 * A segment's points reduced to at most `max` with simplify-js; the tolerance starts at
 * `toleranceM` metres and doubles until the route fits.
 */
export function simplifyPoints(points: PathPoint[], toleranceM: number, max: number): PathPoint[] {
  if (points.length <= 2) return points;
  const cos = Math.cos(((points[0]?.lat ?? 0) * Math.PI) / 180);
  const xy: XY[] = points.map((p) => ({ x: p.lon * cos, y: p.lat, p }));
  let tol = toleranceM / METRES_PER_DEGREE;
  let out = simplify(xy, tol, true) as XY[];
  while (out.length > max) {
    tol *= 2;
    out = simplify(out, tol, true) as XY[];
  }
  return out.map((q) => q.p);
}

/** Delta-encoded 1e-5 degree integers: [lat0, lon0, dLat1, dLon1, …]. */
export function encodeRoute(points: PathPoint[]): number[] {
  const out: number[] = [];
  let plat = 0;
  let plon = 0;
  for (const p of points) {
    const lat = Math.round(p.lat * E5);
    const lon = Math.round(p.lon * E5);
    out.push(lat - plat, lon - plon);
    plat = lat;
    plon = lon;
  }
  return out;
}

/** Route of an activity: each moving segment simplified, the whole within `max` points. */
export function routeOf(segments: Segment[], toleranceM: number, max: number): number[][] {
  const total = segments.reduce((n, s) => n + s.points.length, 0);
  if (total === 0) return [];
  return segments
    .map((s) =>
      simplifyPoints(s.points, toleranceM, Math.max(2, Math.ceil((max * s.points.length) / total))),
    )
    .filter((pts) => pts.length > 0)
    .map(encodeRoute);
}

/** Linear interpolation of a time-sorted series at time t (clamped at the ends). */
export function interpolate(xs: readonly number[], ys: readonly number[], t: number): number {
  const n = xs.length;
  if (n === 0) return Number.NaN;
  if (t <= xs[0]!) return ys[0]!;
  if (t >= xs[n - 1]!) return ys[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= t) lo = mid;
    else hi = mid;
  }
  const x0 = xs[lo]!;
  const x1 = xs[hi]!;
  const f = x1 === x0 ? 0 : (t - x0) / (x1 - x0);
  return ys[lo]! + f * (ys[hi]! - ys[lo]!);
}

/** Cumulative distance over time: the API's distance samples, else the GPS path. */
export function distanceCurve(act: Track): { t: number[]; d: number[] } {
  const ds = act.distance;
  if (ds.length >= 2) {
    const t: number[] = [];
    const d: number[] = [];
    let max = 0;
    for (const s of ds) {
      max = Math.max(max, s.v); // cumulative: never decreases
      t.push(s.t);
      d.push(max);
    }
    return { t, d };
  }
  const t: number[] = [];
  const d: number[] = [];
  let acc = 0;
  for (const seg of act.segments) {
    let prev: PathPoint | undefined;
    for (const p of seg.points) {
      if (prev) acc += haversine(prev.lat, prev.lon, p.lat, p.lon);
      t.push(p.t);
      d.push(acc);
      prev = p;
    }
  }
  return { t, d };
}

/** Moving parts as [from, to] elapsed seconds; without a path, the whole activity is one part. */
function movingParts(act: Track, curve: { t: number[] }): [number, number][] {
  if (act.segments.length > 0) return act.segments.map((s) => [s.start, s.end]);
  const end = Math.max(curve.t.at(-1) ?? 0, act.heartRate.at(-1)?.t ?? 0);
  return end > 0 ? [[0, end]] : [];
}

/** Moving seconds up to elapsed t (pauses excluded). */
function movingAt(parts: [number, number][], t: number): number {
  let m = 0;
  for (const [a, b] of parts) {
    if (t <= a) break;
    m += Math.min(t, b) - a;
  }
  return m;
}

/** Moving seconds per full `unit` metres, and the rest [metres, seconds]. */
export function splitsOf(
  curve: { t: number[]; d: number[] },
  parts: [number, number][],
  unit: number,
): { full: number[]; rest?: [number, number] } {
  const total = curve.d.at(-1) ?? 0;
  const full: number[] = [];
  if (total <= 0 || curve.t.length < 2) return { full };
  const timeAtDistance = (x: number): number => interpolate(curve.d, curve.t, x);
  let prevMoving = movingAt(parts, curve.t[0]!);
  for (let k = 1; k * unit <= total; k++) {
    const m = movingAt(parts, timeAtDistance(k * unit));
    full.push(Math.round(m - prevMoving));
    prevMoving = m;
  }
  const restM = total - full.length * unit;
  const restS = movingAt(parts, curve.t.at(-1)!) - prevMoving;
  return restM >= 1 ? { full, rest: [Math.round(restM), Math.round(restS)] } : { full };
}

/** Sample times over the moving parts, `n` in all, proportional to each part's length. */
function sampleTimes(parts: [number, number][], n: number): number[][] {
  const moving = parts.reduce((s, [a, b]) => s + (b - a), 0);
  const step = Math.max(1, moving / n);
  return parts.map(([a, b]) => {
    const ts: number[] = [];
    for (let t = a; t < b; t += step) ts.push(t);
    ts.push(b);
    return ts;
  });
}

/** The detail block of one activity (undefined when it has neither a route nor any series). */
export function activityDetail(act: Track): ActivityDetail | undefined {
  const route = routeOf(act.segments, 3, ROUTE_POINTS);
  const curve = distanceCurve(act);
  const parts = movingParts(act, curve);
  if (route.length === 0 && parts.length === 0) return undefined;

  const pathT: number[] = [];
  const pathAlt: number[] = [];
  for (const s of act.segments)
    for (const p of s.points) {
      if (p.alt === undefined) continue;
      pathT.push(p.t);
      pathAlt.push(p.alt);
    }
  const hasHr = act.heartRate.length > 0;
  const hasAlt = pathAlt.length > 0;
  const series: ActivityDetail['series'] = {
    t: [],
    d: [],
    v: [],
    hr: hasHr ? [] : undefined,
    alt: hasAlt ? [] : undefined,
  };
  const hasDistance = curve.t.length >= 2;
  const push = (t: number | null, d: number | null, v: number | null, hr: number | null) => {
    series.t.push(t);
    series.d.push(d);
    series.v.push(v);
    series.hr?.push(hr);
    series.alt?.push(t === null ? null : Math.round(interpolate(pathT, pathAlt, t) * 10));
  };
  const groups = sampleTimes(parts, CHART_POINTS);
  groups.forEach((ts, gi) => {
    if (gi > 0) {
      // A pause: a row of nulls breaks every line; x stays where the pause began.
      const last = series.d.at(-1) ?? 0;
      series.t.push(null);
      series.d.push(last);
      series.v.push(null);
      series.hr?.push(null);
      series.alt?.push(null);
    }
    let prevT: number | undefined;
    let prevD: number | undefined;
    for (const t of ts) {
      const d = hasDistance ? interpolate(curve.t, curve.d, t) : 0;
      const dt = prevT === undefined ? 0 : t - prevT;
      const v = hasDistance && prevD !== undefined && dt > 0 ? (d - prevD) / dt : null;
      const hrAt = hasHr ? valueAt(act.heartRate, t, 15) : undefined;
      const hr = hrAt === undefined ? null : Math.round(hrAt);
      push(Math.round(t), Math.round(d), v === null ? null : Math.round(v * 100), hr);
      prevT = t;
      prevD = d;
    }
  });
  // The first sample of each part has no speed of its own: use the next one's.
  for (let i = 0; i < series.v.length - 1; i++) {
    if (series.v[i] === null && series.t[i] !== null) series.v[i] = series.v[i + 1] ?? null;
  }
  if (!hasDistance) {
    series.d = series.d.map(() => null);
    series.v = series.v.map(() => null);
  }
  const pauses: [number, number][] = [];
  for (let i = 1; i < parts.length; i++) pauses.push([parts[i - 1]![1], parts[i]![0]]);
  const km = splitsOf(curve, parts, 1000);
  const mi = splitsOf(curve, parts, MILE);
  return {
    route,
    series,
    pauses,
    splits: {
      km: km.full,
      mi: mi.full,
      ...(km.rest ? { kmRest: km.rest } : {}),
      ...(mi.rest ? { miRest: mi.rest } : {}),
    },
  };
}

/** First GPS position of the activity (for its region), if any. */
export function startPosition(act: Track): { lat: number; lon: number } | undefined {
  const p = act.segments[0]?.points[0];
  return p ? { lat: p.lat, lon: p.lon } : undefined;
}
