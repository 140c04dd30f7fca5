/**
 * The report's overview numbers, computed once at build time from the table rows:
 * totals per year, month and type (local dates: the activity's own zone), distance per day
 * for the calendar heatmap, highlights, and the regions that group routes for the heatmap.
 */
import type { Highlight, Region, ReportActivity, ReportData, Totals } from './types.ts';

const empty = (): Totals => ({ count: 0, distance: 0, moving: 0, climb: 0 });

function add(map: Record<string, Totals>, key: string, a: ReportActivity): void {
  const t = map[key] ?? empty();
  t.count++;
  t.distance += a.distance;
  t.moving += a.moving;
  t.climb += a.climb ?? 0;
  map[key] = t;
}

/** Minimum distance for the "fastest" highlight (a 200 m walk to the car is not a record). */
export const FASTEST_MIN_METRES = 1000;

export function totalsOf(
  activities: readonly ReportActivity[],
): Pick<ReportData, 'totals' | 'days' | 'dayCounts'> {
  const all = empty();
  const byYear: Record<string, Totals> = {};
  const byMonth: Record<string, Totals> = {};
  const byType: Record<string, Totals> = {};
  const days: Record<string, number> = {};
  const dayCounts: Record<string, number> = {};
  for (const a of activities) {
    all.count++;
    all.distance += a.distance;
    all.moving += a.moving;
    all.climb += a.climb ?? 0;
    add(byYear, a.local.slice(0, 4), a);
    add(byMonth, a.local.slice(0, 7), a);
    add(byType, a.type, a);
    const day = a.local.slice(0, 10);
    days[day] = (days[day] ?? 0) + a.distance;
    dayCounts[day] = (dayCounts[day] ?? 0) + 1;
  }
  return { totals: { all, byYear, byMonth, byType }, days, dayCounts };
}

function best(
  activities: readonly ReportActivity[],
  value: (a: ReportActivity) => number | undefined,
): { a: ReportActivity; v: number } | undefined {
  let out: { a: ReportActivity; v: number } | undefined;
  for (const a of activities) {
    const v = value(a);
    if (v !== undefined && v > 0 && (out === undefined || v > out.v)) out = { a, v };
  }
  return out;
}

/** Longest (distance, time), most climb, and the fastest of each type (≥ 1 km, with time). */
export function highlightsOf(activities: readonly ReportActivity[]): Highlight[] {
  const out: Highlight[] = [];
  const push = (
    label: string,
    kind: Highlight['kind'],
    b: { a: ReportActivity; v: number } | undefined,
  ) => {
    if (b) out.push({ label, id: b.a.id, value: b.v, kind });
  };
  push(
    'Longest distance',
    'distance',
    best(activities, (a) => a.distance),
  );
  push(
    'Longest time',
    'duration',
    best(activities, (a) => a.moving),
  );
  push(
    'Most climb',
    'climb',
    best(activities, (a) => a.climb),
  );
  const types = [...new Set(activities.map((a) => a.type))].sort();
  for (const type of types) {
    push(
      `Fastest ${type.toLowerCase()}`,
      'speed',
      best(
        activities.filter((a) => a.type === type),
        (a) =>
          a.distance >= FASTEST_MIN_METRES && a.moving > 0 ? a.distance / a.moving : undefined,
      ),
    );
  }
  return out;
}

/** Grid cell size of a region, degrees (about 100 km north–south). */
export const REGION_DEGREES = 1;

/**
 * Groups activities by the grid cell of their first GPS point; regions are ordered by how
 * many activities they hold (most first) and each activity learns its region's index.
 */
export function assignRegions(
  activities: ReportActivity[],
  starts: ReadonlyMap<string, { lat: number; lon: number }>,
): Region[] {
  const cells = new Map<string, { lat: number; lon: number; ids: string[] }>();
  for (const a of activities) {
    const s = starts.get(a.id);
    if (!s) continue;
    const cy = Math.floor(s.lat / REGION_DEGREES);
    const cx = Math.floor(s.lon / REGION_DEGREES);
    const key = `${cy}:${cx}`;
    const c = cells.get(key) ?? {
      lat: (cy + 0.5) * REGION_DEGREES,
      lon: (cx + 0.5) * REGION_DEGREES,
      ids: [],
    };
    c.ids.push(a.id);
    cells.set(key, c);
  }
  const ordered = [...cells.values()].sort(
    (x, y) => y.ids.length - x.ids.length || x.lat - y.lat || x.lon - y.lon,
  );
  const regionOf = new Map<string, number>();
  ordered.forEach((c, i) => {
    for (const id of c.ids) regionOf.set(id, i);
  });
  for (const a of activities) {
    const r = regionOf.get(a.id);
    if (r !== undefined) a.region = r;
  }
  return ordered.map((c) => ({ lat: c.lat, lon: c.lon, count: c.ids.length }));
}
