/**
 * Matching ZIP activities to API activities (one activity, however many sources): used by
 * the index build (export/derive.ts) and the import. Dependency-free on purpose: the
 * scheduler and fetcher Lambdas assemble the index without the ZIP parsers.
 */

/** What matching needs from an index row (IndexRow satisfies it). */
export interface MatchCandidate {
  id: string;
  type: string;
  localStart: string;
  utcStart: string | undefined;
  distanceMeters: number;
}

const FAMILIES: Record<string, string> = {
  running: 'run',
  cycling: 'ride',
  'mountain biking': 'ride',
  spinning: 'ride',
  walking: 'walk',
  hiking: 'walk',
  'nordic walking': 'walk',
  'downhill skiing': 'ski',
  'cross-country skiing': 'ski',
  snowboarding: 'ski',
};

export function typeFamily(type: string): string {
  const t = type.trim().toLowerCase();
  return FAMILIES[t] ?? t;
}

const QUARTER_HOUR_MS = 15 * 60_000;
const TWO_MIN = 2 * 60_000;
const WINDOW = 36 * 3_600_000;
const DAY = 86_400_000;

function distanceMatches(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(50, 0.03 * Math.max(a, b));
}

/**
 * The API id of the activity a ZIP activity duplicates, or undefined.
 * Same type family and distance within 3 % or 50 m, and then, in order of preference:
 * 1. local starts within ±2 min, or UTC starts within ±2 min (best residual wins);
 * 2. a start (UTC when both known, else local) shifted by a whole number of quarter hours
 *    (±2 min) within ±36 h — a wrong or missing offset on one side — excluding shifts of
 *    whole days (the same route run at the same time another day), and only when exactly
 *    one candidate qualifies.
 */
export function matchActivity(
  zip: Omit<MatchCandidate, 'id'> & { id?: string },
  apiRows: readonly MatchCandidate[],
): string | undefined {
  const zLocal = Date.parse(`${zip.localStart}Z`);
  const zUtc = zip.utcStart === undefined ? Number.NaN : Date.parse(zip.utcStart);
  const fam = typeFamily(zip.type);
  let best: { id: string; score: number } | undefined;
  const shifted: { id: string; score: number }[] = [];
  for (const r of apiRows) {
    if (typeFamily(r.type) !== fam || !distanceMatches(zip.distanceMeters, r.distanceMeters)) {
      continue;
    }
    const rLocal = Date.parse(`${r.localStart}Z`);
    const rUtc = r.utcStart === undefined ? Number.NaN : Date.parse(r.utcStart);
    const dLocal = Math.abs(zLocal - rLocal);
    const dUtc = Math.abs(zUtc - rUtc);
    const exact = Math.min(
      Number.isFinite(dLocal) ? dLocal : Infinity,
      Number.isFinite(dUtc) ? dUtc : Infinity,
    );
    const distScore = Math.abs(zip.distanceMeters - r.distanceMeters);
    if (exact <= TWO_MIN) {
      const score = exact + distScore;
      if (!best || score < best.score) best = { id: r.id, score };
      continue;
    }
    const d = Number.isFinite(dUtc) ? dUtc : dLocal;
    if (!Number.isFinite(d) || d > WINDOW) continue;
    const residual = Math.abs(d - Math.round(d / QUARTER_HOUR_MS) * QUARTER_HOUR_MS);
    const dayResidual = Math.abs(d - Math.round(d / DAY) * DAY);
    if (residual <= TWO_MIN && dayResidual > TWO_MIN) shifted.push({ id: r.id, score: d });
  }
  if (best) return best.id;
  return shifted.length === 1 ? shifted[0]!.id : undefined;
}
