/**
 * Start-time semantics (Health Graph §4.3, §5.5).
 *
 * `start_time` is local wall-clock time without a zone (`EEE, d MMM yyyy HH:mm:ss`).
 * Rules chosen:
 * 1. `utc_offset` present → UTC = local − utc_offset hours. The API's offset is authoritative
 *    for `utc` even when the GPS zone disagrees: it is what Runkeeper itself recorded and
 *    shows, a zone lookup can be wrong near borders or at sea, and keeping it means every
 *    derived time agrees with the raw JSON. A disagreement (e.g. Adelaide +9:30 recorded as
 *    9 or 10, or an offset not updated across a DST change) is flagged `offset-zone-disagree`
 *    and the zone's own offset at that instant is reported as `zoneOffsetMinutes`.
 * 2. No `utc_offset` but a GPS position → the IANA zone of the first valid point (tz-lookup);
 *    the local wall clock is resolved in that zone (DST-correct). Flag `offset-missing`.
 *    A wall-clock time that does not exist (spring-forward gap) is moved forward by the gap
 *    (interpreted with the offset in force before the change): flag `local-time-in-gap`.
 *    An ambiguous one (fall-back overlap) resolves to the earlier instant: flag
 *    `local-time-ambiguous`. (Same choice as Temporal's `disambiguation: 'compatible'`.)
 * 3. Neither → `utc` undefined; flags `offset-missing` and `no-offset-no-position`.
 */
import tzlookup from 'tz-lookup';

const MONTHS: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export interface StartTime {
  /** Local wall clock, `YYYY-MM-DDTHH:mm:ss`. */
  local: string;
  /** The API's `utc_offset` (hours) when present. */
  utcOffsetHours?: number;
  /** UTC instant as ISO 8601 with `Z`, when it can be determined. */
  utc?: string;
  /** IANA zone of the first valid GPS point. */
  zone?: string;
  /** Offset of `zone` at the start instant, minutes east of UTC. */
  zoneOffsetMinutes?: number;
  flags: string[];
}

const START_RE =
  /^\s*(?:[A-Za-z]{3,9},?\s+)?(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\.?\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$/;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function validWallClock(w: WallClock): boolean {
  if (w.month < 1 || w.month > 12 || w.day < 1 || w.hour > 23 || w.minute > 59 || w.second > 59) {
    return false;
  }
  const d = new Date(Date.UTC(w.year, w.month - 1, w.day));
  return d.getUTCDate() === w.day && d.getUTCMonth() === w.month - 1;
}

/** Parses `Tue, 5 Mar 2024 07:15:00` (weekday optional and not checked). */
export function parseStartTime(s: string): WallClock | undefined {
  const m = START_RE.exec(s);
  if (!m) return undefined;
  const month = MONTHS[m[2]!.toLowerCase()];
  if (month === undefined) return undefined;
  const w: WallClock = {
    year: Number(m[3]),
    month,
    day: Number(m[1]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: m[6] === undefined ? 0 : Number(m[6]),
  };
  return validWallClock(w) ? w : undefined;
}

/** Parses `YYYY-MM-DD HH:mm:ss` or `YYYY-MM-DDTHH:mm:ss` (no zone). */
export function parseLocalIso(s: string): WallClock | undefined {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?\s*$/.exec(s);
  if (!m) return undefined;
  const w: WallClock = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: m[6] === undefined ? 0 : Number(m[6]),
  };
  return validWallClock(w) ? w : undefined;
}

export function formatLocal(w: WallClock): string {
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_NAMES = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec',
];

/** The API's `start_time` format, e.g. `Sat, 4 May 2019 16:35:09`. */
export function formatStartTime(w: WallClock): string {
  const dow = new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay();
  return `${DAYS[dow]}, ${w.day} ${MONTH_NAMES[w.month - 1]} ${w.year} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
}

/** The wall clock read as if it were UTC, in epoch ms. */
export function wallClockAsUtcMs(w: WallClock): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
}

/** ISO 8601 UTC with `Z`; milliseconds only when non-zero. */
export function isoUtc(ms: number): string {
  const s = new Date(Math.round(ms)).toISOString();
  return s.endsWith('.000Z') ? `${s.slice(0, -5)}Z` : s;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of `zone` at instant `ms`, minutes east of UTC (DST-correct, from ICU). */
export function zoneOffsetMinutes(zone: string, ms: number): number {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    formatters.set(zone, f);
  }
  const name = f.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? '';
  const m = /^GMT([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$/.exec(name);
  if (!m) return 0; // "GMT"
  const mins = Number(m[2]) * 60 + Number(m[3] ?? 0) + Number(m[4] ?? 0) / 60;
  return m[1] === '-' ? -mins : mins;
}

export interface ZoneResolution {
  ms: number;
  offsetMinutes: number;
  gap: boolean;
  ambiguous: boolean;
}

/** Resolves a local wall clock in `zone` to a UTC instant (see rule 2 above). */
export function resolveInZone(w: WallClock, zone: string): ZoneResolution {
  const local = wallClockAsUtcMs(w);
  const day = 86_400_000;
  const before = zoneOffsetMinutes(zone, local - day);
  const after = zoneOffsetMinutes(zone, local + day);
  const candidates = new Set([before, zoneOffsetMinutes(zone, local), after]);
  const valid: number[] = [];
  for (const off of candidates) {
    const ms = local - off * 60_000;
    if (zoneOffsetMinutes(zone, ms) === off) valid.push(ms);
  }
  valid.sort((a, b) => a - b);
  const first = valid[0];
  if (first !== undefined) {
    return {
      ms: first,
      offsetMinutes: zoneOffsetMinutes(zone, first),
      gap: false,
      ambiguous: valid.length > 1,
    };
  }
  const ms = local - before * 60_000;
  return { ms, offsetMinutes: zoneOffsetMinutes(zone, ms), gap: true, ambiguous: false };
}

/** IANA zone for a position, or undefined when tz-lookup cannot tell. */
export function zoneAt(lat: number, lon: number): string | undefined {
  try {
    return tzlookup(lat, lon);
  } catch {
    return undefined;
  }
}

/**
 * Computes the start time of an activity. `position` is the first valid GPS point, if any.
 * Returns undefined only when `startTime` cannot be parsed.
 */
export function computeStartTime(
  startTime: string,
  utcOffsetHours: number | undefined,
  position?: { lat: number; lon: number },
): StartTime | undefined {
  const w = parseStartTime(startTime) ?? parseLocalIso(startTime);
  if (!w) return undefined;
  const out: StartTime = { local: formatLocal(w), flags: [] };
  const zone = position ? zoneAt(position.lat, position.lon) : undefined;
  if (zone) out.zone = zone;
  if (utcOffsetHours !== undefined && Number.isFinite(utcOffsetHours)) {
    out.utcOffsetHours = utcOffsetHours;
    const ms = wallClockAsUtcMs(w) - Math.round(utcOffsetHours * 3_600_000);
    out.utc = isoUtc(ms);
    if (zone) {
      out.zoneOffsetMinutes = zoneOffsetMinutes(zone, ms);
      if (out.zoneOffsetMinutes !== Math.round(utcOffsetHours * 60)) {
        out.flags.push('offset-zone-disagree');
      }
    }
    return out;
  }
  out.flags.push('offset-missing');
  if (!zone) {
    out.flags.push('no-offset-no-position');
    return out;
  }
  const r = resolveInZone(w, zone);
  out.utc = isoUtc(r.ms);
  out.zoneOffsetMinutes = r.offsetMinutes;
  if (r.gap) out.flags.push('local-time-in-gap');
  if (r.ambiguous) out.flags.push('local-time-ambiguous');
  return out;
}

/** The offset (hours) actually used to compute `utc`, if any. */
export function effectiveOffsetHours(st: StartTime): number | undefined {
  if (st.utcOffsetHours !== undefined) return st.utcOffsetHours;
  if (st.utc !== undefined && st.zoneOffsetMinutes !== undefined) return st.zoneOffsetMinutes / 60;
  return undefined;
}
