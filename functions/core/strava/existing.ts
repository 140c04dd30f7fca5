/**
 * Activities already on Strava: listed once per push run (GET /athlete/activities, 200 per
 * page, over the date range being pushed) and matched by start time and distance, so an
 * activity a watch or another tool already put there is skipped with a note, and one of ours
 * created just before a crash is recognised instead of created twice.
 */
import type { StravaClient } from './client.ts';
import type { PushCandidate } from './plan.ts';

export interface StravaListed {
  id: string;
  startMs: number;
  /** start_date_local read as UTC (Strava writes the local wall clock with a Z). */
  localMs: number;
  distance: number;
  external_id?: string | null | undefined;
}

const PAGE = 200;

export async function listStravaActivities(
  client: StravaClient,
  fromMs: number,
  toMs: number,
): Promise<StravaListed[]> {
  const out: StravaListed[] = [];
  const after = Math.floor(fromMs / 1000);
  const before = Math.ceil(toMs / 1000);
  for (let page = 1; ; page++) {
    const res = await client.request(
      'read',
      'GET',
      `/athlete/activities?after=${after}&before=${before}&page=${page}&per_page=${PAGE}`,
    );
    const items = Array.isArray(res.json) ? (res.json as Record<string, unknown>[]) : [];
    for (const a of items) {
      const startMs = Date.parse(String(a.start_date));
      const localMs = Date.parse(String(a.start_date_local).replace(/Z?$/, 'Z'));
      if (!Number.isFinite(startMs) || a.id === undefined) continue;
      out.push({
        id: String(a.id),
        startMs,
        localMs: Number.isFinite(localMs) ? localMs : startMs,
        distance: Number(a.distance ?? 0) || 0,
        external_id: typeof a.external_id === 'string' ? a.external_id : null,
      });
    }
    if (items.length < PAGE) return out;
  }
}

const TWO_MIN = 120_000;

function sameDistance(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(100, 0.03 * Math.max(a, b));
}

/** The Strava activity that is this archive activity (start within 2 min, distance within 3 % or 100 m). */
export function findExisting(
  c: PushCandidate,
  listed: readonly StravaListed[],
  claimed: ReadonlySet<string>,
): StravaListed | undefined {
  const utc = c.row.utcStart ? Date.parse(c.row.utcStart) : undefined;
  const local = Date.parse(`${c.row.localStart}Z`);
  let best: { a: StravaListed; d: number } | undefined;
  for (const a of listed) {
    if (claimed.has(a.id) || !sameDistance(a.distance, c.row.distanceMeters)) continue;
    // Local wall clocks compare directly; UTC starts too when the archive knows its offset.
    const d = Math.min(
      Math.abs(a.localMs - local),
      utc !== undefined ? Math.abs(a.startMs - utc) : Number.POSITIVE_INFINITY,
    );
    if (d <= TWO_MIN && (!best || d < best.d)) best = { a, d };
  }
  return best?.a;
}
