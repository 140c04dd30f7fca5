/**
 * GeoJSON (RFC 7946) rendering of one activity: a single Feature.
 *
 * Geometry: LineString for one segment, MultiLineString for several; positions are
 * [lon, lat, ele] (ele omitted when unknown). RFC 7946 needs ≥ 2 positions per line, so
 * single-point segments are left out of the geometry; if that leaves nothing but the
 * activity has a point, the geometry is a Point. No path → geometry null.
 * `coordTimes` (UTC ISO strings, like togeojson) and `heartRates` (bpm or null) follow the
 * geometry's shape: flat arrays for LineString/Point, arrays per line for MultiLineString.
 * `coordTimes` is omitted when the UTC start is unknown.
 */
import {
  type Activity,
  knownDistance,
  normalizeActivity,
  type PathPoint,
  valueAt,
} from './activity.ts';
import { HR_MAX_GAP_S, isActivity } from './gpx.ts';
import { effectiveOffsetHours, isoUtc } from './time.ts';

type Position = [number, number] | [number, number, number];
export type Geometry =
  | { type: 'Point'; coordinates: Position }
  | { type: 'LineString'; coordinates: Position[] }
  | { type: 'MultiLineString'; coordinates: Position[][] };

export interface ActivityFeature {
  type: 'Feature';
  id: string;
  geometry: Geometry | null;
  properties: Record<string, unknown>;
}

const round = (n: number, d: number) => Math.round(n * 10 ** d) / 10 ** d;

export function renderGeoJson(input: Activity | unknown): ActivityFeature {
  const act = isActivity(input) ? input : normalizeActivity(input);
  const position = (p: PathPoint): Position =>
    p.alt === undefined
      ? [round(p.lon, 7), round(p.lat, 7)]
      : [round(p.lon, 7), round(p.lat, 7), round(p.alt, 2)];
  const time = (p: PathPoint) =>
    act.startMs === undefined ? undefined : isoUtc(act.startMs + p.t * 1000);
  const hr = (p: PathPoint) => {
    const v = valueAt(act.heartRate, p.t, HR_MAX_GAP_S);
    return v === undefined ? null : Math.round(v);
  };

  const lines = act.segments.map((s) => s.points).filter((pts) => pts.length >= 2);
  let geometry: Geometry | null = null;
  let shaped: PathPoint[][] = [];
  const firstLine = lines[0];
  if (lines.length === 1 && firstLine) {
    geometry = { type: 'LineString', coordinates: firstLine.map(position) };
    shaped = [firstLine];
  } else if (lines.length > 1) {
    geometry = { type: 'MultiLineString', coordinates: lines.map((l) => l.map(position)) };
    shaped = lines;
  } else {
    const p = act.segments[0]?.points[0] ?? act.path[0];
    if (p) {
      geometry = { type: 'Point', coordinates: position(p) };
      shaped = [[p]];
    }
  }
  const flat = geometry?.type !== 'MultiLineString';
  const perPoint = <T>(f: (p: PathPoint) => T) =>
    flat ? (shaped[0] ?? []).map(f) : shaped.map((l) => l.map(f));

  const properties: Record<string, unknown> = {
    id: act.id,
    type: act.type,
    start: act.start.utc ?? null,
    localStart: act.start.local,
    utcOffset: effectiveOffsetHours(act.start) ?? null,
    zone: act.start.zone ?? null,
    distance: knownDistance(act) ?? null,
    duration: act.totals.durationSeconds,
    movingTime: act.movingSeconds,
    elapsedTime: act.elapsedSeconds,
    calories: act.totals.calories ?? null,
    averageHeartRate: act.totals.averageHeartRate ?? null,
    climb: act.totals.climbMeters ?? null,
    notes: act.notes ?? null,
    flags: act.start.flags,
  };
  if (geometry && act.startMs !== undefined) properties.coordTimes = perPoint(time);
  if (geometry && act.heartRate.length > 0) properties.heartRates = perPoint(hr);
  return { type: 'Feature', id: act.id, geometry, properties };
}
