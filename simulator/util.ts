/**
 * Small deterministic helpers for the simulator: a seeded PRNG and the Health Graph
 * date formats.
 */

/** A seeded PRNG (mulberry32): floats in [0, 1). */
export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mix several integers into one 32-bit seed. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193);
    h ^= h >>> 13;
    h = Math.imul(h, 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  const v = items[Math.floor(rng() * items.length)];
  if (v === undefined) throw new Error('pick from empty list');
  return v;
}

export function chance(rng: Rng, p: number): boolean {
  return rng() < p;
}

/** Approximately normal (sum of uniforms), mean 0, sd ~1. */
export function gauss(rng: Rng): number {
  return rng() + rng() + rng() + rng() - 2;
}

export function hex(rng: Rng, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += Math.floor(rng() * 16).toString(16);
  return s;
}

export function round(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * `EEE, d MMM yyyy HH:mm:ss` of a "local" instant expressed as epoch ms (read with UTC getters),
 * as the API contract shows it (`Sat, 1 Jan 2011 00:00:00`: day unpadded, time padded). Written
 * here, not borrowed from the exporters: the simulator checks them.
 */
export function rkDate(localMs: number): string {
  const d = new Date(localMs);
  return `${WEEKDAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

/** `yyyy-MM-dd` of epoch ms, read in UTC. */
export function ymd(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getUTCFullYear()).padStart(4, '0')}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

/** `yyyy-MM-ddTHH:mm:ss` of epoch ms, UTC. */
export function ymdhms(ms: number): string {
  const d = new Date(ms);
  return `${ymd(ms)}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2}))?$/;

/**
 * Parse `yyyy-MM-dd` or `yyyy-MM-ddTHH:mm:ss` (UTC). Returns the first and last
 * millisecond the value covers (a whole day for a bare date, a whole second otherwise),
 * or undefined when malformed.
 */
export function parseDateParam(
  s: string,
): { from: number; to: number; hasTime: boolean } | undefined {
  const m = DATE_RE.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map((x) => (x === undefined ? undefined : Number(x)));
  if (y === undefined || mo === undefined || d === undefined) return undefined;
  const hasTime = h !== undefined;
  const ms = Date.UTC(y, mo - 1, d, h ?? 0, mi ?? 0, se ?? 0);
  const back = new Date(ms);
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    (hasTime &&
      (back.getUTCHours() !== h || back.getUTCMinutes() !== mi || back.getUTCSeconds() !== se))
  ) {
    return undefined;
  }
  return { from: ms, to: ms + (hasTime ? 999 : 86_400_000 - 1), hasTime };
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of an IANA zone from UTC at an instant, in minutes (e.g. 345 for Kathmandu). */
export function zoneOffsetMinutes(zone: string, utcMs: number): number {
  let fmt = offsetFormatters.get(zone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    offsetFormatters.set(zone, fmt);
  }
  const name = fmt.formatToParts(utcMs).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  if (!m) return 0;
  const mins = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -mins : mins;
}
