/**
 * The UTC start of an imported activity, from the CSV's local `Date` and its GPX.
 *
 * offset = CSV local start − first GPX time, rounded to 15 minutes (absent beyond ±14 h, or
 * without GPX times). GPX times are meant as UTC, but older Runkeeper GPX files carry the
 * local wall clock with a `Z` suffix. The rule (README, "Times"):
 *   the offset comes out 0 (CSV local start = first GPX time) while the IANA zone at the
 *   track's first point had a non-zero offset at that wall-clock time
 *   → the GPX is local time written as UTC: the zone's offset is used, every GPX time is
 *     shifted by it, and the activity records `rk_export.gpx_time_fix = "local-time-as-utc"`
 *     (index flag `gpx-local-time-as-utc`).
 * A correct GPX never meets the condition (its offset equals the zone's, or both are 0), so
 * it is never "fixed".
 */
import { resolveInZone, type WallClock, wallClockAsUtcMs, zoneAt } from '../export/time.ts';
import type { ParsedGpx } from './gpx-stream.ts';

export const LOCAL_TIME_AS_UTC = 'local-time-as-utc';

const QUARTER_HOUR_MS = 15 * 60_000;
const MAX_OFFSET_MS = 14 * 3_600_000;

export interface GpxClock {
  /** Local − UTC, ms. */
  offsetMs: number;
  startUtc: number;
  /** Subtract from every GPX time to get UTC (non-zero only for the local-as-UTC bug). */
  gpxShiftMs: number;
  localTimeAsUtc: boolean;
}

export function gpxClock(w: WallClock, gpx: ParsedGpx | undefined): GpxClock | undefined {
  const first = gpx?.points.find((p) => p.time !== undefined);
  if (first?.time === undefined) return undefined;
  const localMs = wallClockAsUtcMs(w);
  const offsetMs = Math.round((localMs - first.time) / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
  if (Math.abs(offsetMs) > MAX_OFFSET_MS) return undefined; // not a real zone offset
  if (offsetMs === 0) {
    const zone = zoneAt(first.lat, first.lon);
    const zoneOffsetMs = zone === undefined ? 0 : resolveInZone(w, zone).offsetMinutes * 60_000;
    if (zoneOffsetMs !== 0) {
      return {
        offsetMs: zoneOffsetMs,
        startUtc: localMs - zoneOffsetMs,
        gpxShiftMs: zoneOffsetMs,
        localTimeAsUtc: true,
      };
    }
  }
  return { offsetMs, startUtc: localMs - offsetMs, gpxShiftMs: 0, localTimeAsUtc: false };
}
