/**
 * Strava's per-application limits as the server counts them: fixed 15-minute windows
 * (reset at 0, 15, 30 and 45 minutes past the hour) and a daily window (reset at midnight
 * UTC), for all requests ("overall") and for the "non-upload" endpoints ("read"). Requests
 * over the limit still count (developers.strava.com/docs/rate-limits).
 */
export interface WindowLimits {
  /** [15-minute limit, daily limit] for all requests. */
  overall: [number, number];
  /** [15-minute limit, daily limit] for everything except POST /uploads and POST /activities. */
  read: [number, number];
}

const QUARTER = 900_000;
const DAY = 86_400_000;

class Counter {
  #window = -1;
  count = 0;
  peak = 0;
  readonly lengthMs: number;
  constructor(lengthMs: number) {
    this.lengthMs = lengthMs;
  }
  current(now: number): number {
    const w = Math.floor(now / this.lengthMs);
    if (w !== this.#window) {
      this.#window = w;
      this.count = 0;
    }
    return this.count;
  }
  add(now: number): number {
    this.current(now);
    this.count++;
    this.peak = Math.max(this.peak, this.count);
    return this.count;
  }
}

export class RateWindows {
  readonly #o15 = new Counter(QUARTER);
  readonly #oDay = new Counter(DAY);
  readonly #r15 = new Counter(QUARTER);
  readonly #rDay = new Counter(DAY);
  readonly limits: WindowLimits;
  constructor(limits: WindowLimits) {
    this.limits = limits;
  }

  /** Count one request; ok when every window it belongs to was still under its limit. */
  take(now: number, kind: 'upload' | 'read'): { ok: boolean } {
    const L = this.limits;
    const over =
      this.#o15.current(now) >= L.overall[0] ||
      this.#oDay.current(now) >= L.overall[1] ||
      (kind === 'read' &&
        (this.#r15.current(now) >= L.read[0] || this.#rDay.current(now) >= L.read[1]));
    this.#o15.add(now);
    this.#oDay.add(now);
    if (kind === 'read') {
      this.#r15.add(now);
      this.#rDay.add(now);
    }
    return { ok: !over };
  }

  headers(now: number): Record<string, string> {
    const L = this.limits;
    return {
      'x-ratelimit-limit': `${L.overall[0]},${L.overall[1]}`,
      'x-ratelimit-usage': `${this.#o15.current(now)},${this.#oDay.current(now)}`,
      'x-readratelimit-limit': `${L.read[0]},${L.read[1]}`,
      'x-readratelimit-usage': `${this.#r15.current(now)},${this.#rDay.current(now)}`,
    };
  }

  peaks() {
    return {
      overall15: this.#o15.peak,
      overallDay: this.#oDay.peak,
      read15: this.#r15.peak,
      readDay: this.#rDay.peak,
    };
  }
}
