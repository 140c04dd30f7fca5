/**
 * Strava's rate limits as walls: several windows at once, per application.
 *
 * Strava limits each application with a 15-minute and a daily window, once for all requests
 * ("overall", default 200 / 2,000) and once for the "non-upload" endpoints ("read", default
 * 100 / 1,000; everything except POST /uploads and POST /activities).
 * (developers.strava.com/docs/rate-limits). The server's windows are fixed (quarter hours,
 * UTC days); each of ours is the existing exact sliding window (budget.ts) of the same
 * length, which is stricter: any fixed window lies inside a sliding one ending at its end.
 *
 * `MultiWindowBudget` composes one `SlidingWindowBudget` per window over the same
 * `BudgetStore` (memory, SQLite, DynamoDB), keyed per application, so budget.ts is unchanged.
 * A call is granted only when every window of its class has room. The limit headers Strava
 * returns are obeyed: a window the server reports as (nearly) full is blocked until its next
 * boundary, usage we did not make (another installation of the same app) is recorded, and a
 * lower limit in the header lowers ours.
 */
import { type BudgetStore, type Grant, SlidingWindowBudget } from '../budget.ts';

export type CallClass = 'upload' | 'read';

export interface StravaLimits {
  /** [15-minute, daily] limits for all requests. */
  overall: [number, number];
  /** [15-minute, daily] limits for the non-upload endpoints. */
  read: [number, number];
}

/** Strava's documented defaults for a new application. */
export const STRAVA_DEFAULT_LIMITS: StravaLimits = { overall: [200, 2000], read: [100, 1000] };

export const QUARTER_MS = 900_000;
export const DAY_MS = 86_400_000;

interface Window {
  name: 'overall15' | 'overallDay' | 'read15' | 'readDay';
  lengthMs: number;
  classes: CallClass[];
  budget: SlidingWindowBudget;
}

/** Start of the next fixed window (quarter hour, or midnight UTC) after `now`. */
export function nextBoundary(now: number, lengthMs: number): number {
  return (Math.floor(now / lengthMs) + 1) * lengthMs;
}

function pair(v: string | null): [number, number] | undefined {
  if (!v) return undefined;
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export interface RateHeaders {
  limit?: [number, number] | undefined;
  usage?: [number, number] | undefined;
  readLimit?: [number, number] | undefined;
  readUsage?: [number, number] | undefined;
}

export function parseRateHeaders(h: Headers): RateHeaders {
  return {
    limit: pair(h.get('x-ratelimit-limit')),
    usage: pair(h.get('x-ratelimit-usage')),
    readLimit: pair(h.get('x-readratelimit-limit')),
    readUsage: pair(h.get('x-readratelimit-usage')),
  };
}

const dayMargin = (limit: number) => Math.max(1, Math.min(10, Math.floor(limit / 100)));

export class MultiWindowBudget {
  readonly limits: StravaLimits;
  readonly #windows: Window[];
  readonly #key: string;

  /**
   * @param appKey the application (client id): Strava's limits are per application.
   * Margins: 2 calls in reserve per 15 minutes (like the Health Graph budget), 1 % (1 to 10) per day.
   */
  constructor(store: BudgetStore, appKey: string, limits: StravaLimits = STRAVA_DEFAULT_LIMITS) {
    this.limits = limits;
    this.#key = `strava#${appKey}`;
    const mk = (limit: number, windowMs: number, margin: number) =>
      new SlidingWindowBudget(store, {
        limit,
        windowMs,
        margin: Math.min(margin, Math.max(0, limit - 1)),
        guardMs: 1_000,
      });
    this.#windows = [
      {
        name: 'overall15',
        lengthMs: QUARTER_MS,
        classes: ['upload', 'read'],
        budget: mk(limits.overall[0], QUARTER_MS, 2),
      },
      {
        name: 'overallDay',
        lengthMs: DAY_MS,
        classes: ['upload', 'read'],
        budget: mk(limits.overall[1], DAY_MS, dayMargin(limits.overall[1])),
      },
      {
        name: 'read15',
        lengthMs: QUARTER_MS,
        classes: ['read'],
        budget: mk(limits.read[0], QUARTER_MS, 2),
      },
      {
        name: 'readDay',
        lengthMs: DAY_MS,
        classes: ['read'],
        budget: mk(limits.read[1], DAY_MS, dayMargin(limits.read[1])),
      },
    ];
  }

  #k(w: Window): string {
    return `${this.#key}#${w.name}`;
  }

  /** Take one call of `kind` now if every window it counts against has room; never blocks. */
  async tryAcquire(kind: CallClass, now: number): Promise<Grant> {
    const wins = this.#windows.filter((w) => w.classes.includes(kind));
    const views = await Promise.all(wins.map((w) => w.budget.inspect(this.#k(w), now)));
    if (views.some((v) => v.available <= 0)) {
      return { granted: false, waitUntil: Math.max(...views.map((v) => v.nextSlotAt)) };
    }
    let remaining = Number.POSITIVE_INFINITY;
    for (const w of wins) {
      // A concurrent caller may take the last slot in between: the slots already taken are
      // wasted, never overspent.
      const g = await w.budget.tryAcquire(this.#k(w), now);
      if (!g.granted) return g;
      remaining = Math.min(remaining, g.remaining);
    }
    return { granted: true, remaining };
  }

  /** Obey the headers of a response (any status). */
  async observe(h: RateHeaders, now: number): Promise<void> {
    const reported: [
      Window['name'],
      [number, number] | undefined,
      [number, number] | undefined,
      0 | 1,
    ][] = [
      ['overall15', h.limit, h.usage, 0],
      ['overallDay', h.limit, h.usage, 1],
      ['read15', h.readLimit, h.readUsage, 0],
      ['readDay', h.readLimit, h.readUsage, 1],
    ];
    for (const [name, limit, usage, i] of reported) {
      if (!limit || !usage) continue;
      const w = this.#windows.find((x) => x.name === name)!;
      const key = this.#k(w);
      const v = await w.budget.inspect(key, now);
      const serverLimit = limit[i];
      const used = usage[i];
      const margin = w.budget.config.margin;
      if (serverLimit < v.limit || used >= Math.min(serverLimit, v.limit) - margin) {
        await w.budget.penalize(key, now, {
          waitUntil:
            used >= Math.min(serverLimit, v.limit) - margin ? nextBoundary(now, w.lengthMs) : 0,
          revealedLimit:
            serverLimit < v.limit ? { calls: serverLimit, windowMs: w.lengthMs } : undefined,
        });
      }
      // Calls someone else made with the same application: count them at the start of the
      // server's fixed window, so they leave our sliding window when the server's resets.
      const missing = Math.min(used - v.used, v.capacity - v.used);
      const windowStart = nextBoundary(now, w.lengthMs) - w.lengthMs;
      for (let n = 0; n < missing; n++) await w.budget.record(key, windowStart);
    }
  }

  /** A 429 (which should never happen): block every window the headers show as full, or the 15-minute ones. */
  async penalize(kind: CallClass, h: RateHeaders, now: number): Promise<void> {
    const full = (l?: [number, number], u?: [number, number], i: 0 | 1 = 0) =>
      l !== undefined && u !== undefined && u[i] >= l[i];
    const blocks: Window['name'][] = [];
    if (full(h.limit, h.usage, 1)) blocks.push('overallDay');
    if (kind === 'read' && full(h.readLimit, h.readUsage, 1)) blocks.push('readDay');
    if (full(h.limit, h.usage, 0)) blocks.push('overall15');
    if (kind === 'read' && full(h.readLimit, h.readUsage, 0)) blocks.push('read15');
    if (blocks.length === 0)
      blocks.push('overall15', ...(kind === 'read' ? (['read15'] as const) : []));
    for (const name of blocks) {
      const w = this.#windows.find((x) => x.name === name)!;
      await w.budget.penalize(this.#k(w), now, { waitUntil: nextBoundary(now, w.lengthMs) });
    }
  }

  /** Capacity per window (calls granted per window length), for ETAs. */
  capacities(): {
    name: Window['name'];
    lengthMs: number;
    capacity: number;
    classes: CallClass[];
  }[] {
    return this.#windows.map((w) => ({
      name: w.name,
      lengthMs: w.lengthMs,
      capacity: w.budget.config.limit - w.budget.config.margin,
      classes: w.classes,
    }));
  }

  async inspect(now: number) {
    return Promise.all(
      this.#windows.map(async (w) => ({
        name: w.name,
        ...(await w.budget.inspect(this.#k(w), now)),
      })),
    );
  }
}

/**
 * Time a push of `activities` needs at the given calls per activity: the slowest window wins.
 * `perActivity.upload` calls count against the overall windows only, `perActivity.read`
 * against both.
 */
export function pushEtaMs(
  activities: number,
  perActivity: { upload: number; read: number },
  budget: MultiWindowBudget,
): number {
  let worst = 0;
  for (const w of budget.capacities()) {
    const calls =
      activities *
      (w.classes.includes('upload') ? perActivity.upload + perActivity.read : perActivity.read);
    const cap = Math.max(1, w.capacity);
    // A short window paces continuously; a daily one lets `cap` through, then waits a day.
    const t =
      w.lengthMs <= QUARTER_MS ? (calls / cap) * w.lengthMs : Math.floor(calls / cap) * w.lengthMs;
    worst = Math.max(worst, t);
  }
  return worst;
}
