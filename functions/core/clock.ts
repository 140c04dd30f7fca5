/**
 * Time is a port. Production code uses the system clock; tests, the demo and the
 * benchmark inject a manual clock so that a 15-minute rate window passes instantly.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Wait `ms` milliseconds (a manual clock just advances). Never used inside a Lambda to pace calls. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** A clock that only moves when told to: `sleep` advances it immediately. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    if (ms > 0) this.#now += ms;
  }
  advance(ms: number): void {
    if (ms > 0) this.#now += ms;
  }
  set(t: number): void {
    this.#now = Math.max(this.#now, t);
  }
}

/**
 * A clock running `scale` times faster than real time (the demo compresses the
 * 15-minute rate window so a full backfill finishes in seconds). The simulator and
 * the client must share the same scaled clock.
 */
export class ScaledClock implements Clock {
  readonly scale: number;
  readonly #origin: number;
  readonly #realOrigin: number;
  constructor(scale: number, origin = Date.now()) {
    this.scale = scale;
    this.#origin = origin;
    this.#realOrigin = Date.now();
  }
  now(): number {
    return this.#origin + (Date.now() - this.#realOrigin) * this.scale;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms / this.scale, signal);
  }
}
