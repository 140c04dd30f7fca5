/**
 * The Health Graph's app-wide limits, over every user's calls: the 429 texts the API contract
 * records (§7.2) are "rate limit is 5000 calls per 15 minutes" and "rate limit is 300000 calls
 * per days1" (sic), with no "for this user". Several users on one deployment share them.
 * The 15-minute limit is a sliding window; the daily one resets at 00:00 UTC ("the app limits
 * reset daily").
 */
const DAY = 86_400_000;
const WINDOW = 900_000;

export interface AppLimitOptions {
  calls15min?: number;
  callsPerDay?: number;
}

export class AppLimits {
  readonly calls15min: number;
  readonly callsPerDay: number;
  readonly #calls: number[] = [];

  constructor(o: AppLimitOptions = {}) {
    this.calls15min = o.calls15min ?? 5000;
    this.callsPerDay = o.callsPerDay ?? 300_000;
  }

  /** Count a call at `t`; the 429 reason when it exceeds an app-wide limit. */
  hit(t: number): string | undefined {
    const dayStart = Math.floor(t / DAY) * DAY;
    const windowStart = t - WINDOW;
    const calls = this.#calls;
    while (calls.length > 0 && calls[0]! <= windowStart && calls[0]! < dayStart) calls.shift();
    calls.push(t);
    let in15 = 0;
    let today = 0;
    for (const c of calls) {
      if (c > windowStart) in15++;
      if (c >= dayStart) today++;
    }
    if (in15 > this.calls15min) {
      return `Rate-limit exceeded. rate limit is ${this.calls15min} calls per 15 minutes`;
    }
    if (today > this.callsPerDay) {
      return `Rate-limit exceeded. rate limit is ${this.callsPerDay} calls per days1`;
    }
    return undefined;
  }
}
