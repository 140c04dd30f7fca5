/**
 * The streams the report draws (path segments, heart rate, distance) read straight from a raw
 * activity, with the same rules as normalizeActivity (export/activity.ts: tolerant numbers,
 * time order, splitSegments for pauses) but without validating every field of every point
 * through zod: for 5,000 activities of 3,000 points that is most of the build time.
 * test/unit/report-core.test.ts checks both agree.
 */
import { type Activity, samples, splitSegments, toNumber } from '../export/activity.ts';

export type Track = Pick<Activity, 'segments' | 'heartRate' | 'distance'>;

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const rec = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;

export function trackOf(raw: unknown): Track {
  const a = rec(raw) ?? {};
  const points: Parameters<typeof splitSegments>[0][number][] = [];
  for (const item of list(a.path)) {
    const p = rec(item);
    if (!p) continue;
    const t = toNumber(p.timestamp);
    if (t === undefined || t < 0) continue;
    points.push({
      t,
      lat: toNumber(p.latitude),
      lon: toNumber(p.longitude),
      alt: toNumber(p.altitude),
      type: (typeof p.type === 'string' ? p.type : 'gps').toLowerCase(),
    });
  }
  points.sort((x, y) => x.t - y.t);
  return {
    segments: splitSegments(points),
    heartRate: samples(list(a.heart_rate), 'heart_rate').filter((s) => s.v > 0 && s.v < 256),
    distance: samples(list(a.distance), 'distance'),
  };
}
