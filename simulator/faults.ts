/**
 * Fault injection for the simulator: a scripted queue (one fault per matching request,
 * `times` times) and random chaos (5xx rate, 5xx bursts, 429 storms, inserts while paging).
 */
import { mixSeed, mulberry32, type Rng } from './util.ts';

export type FaultKind =
  | 'status'
  | '429'
  | 'hang'
  | 'slow'
  | 'malformed'
  | 'html'
  | 'oversize'
  | 'reset'
  | 'charset-latin1'
  | 'wrong-type'
  | 'mismatch';

export const FAULT_KINDS: readonly FaultKind[] = [
  'status',
  '429',
  'hang',
  'slow',
  'malformed',
  'html',
  'oversize',
  'reset',
  'charset-latin1',
  'wrong-type',
  'mismatch',
];

export interface ScriptedFault {
  /**
   * Which requests it applies to. Tested against the path without query string, relative
   * to its prefix: `/fitnessActivities/123` (API side), `/apps/token` (www side),
   * `/img/...` (images). A string must equal the path; a RegExp is tested on it.
   * Without `match` the fault applies to the next API-side request only.
   */
  match?: RegExp | string;
  kind: FaultKind;
  /** How many matching requests it hits (default 1). */
  times?: number;
  /** 'status': the status code (default 500). */
  status?: number;
  /** 'status': the body (default a JSON `{"reason": ...}`). */
  body?: string;
  /** 'status': the Content-Type (default application/json; charset=utf-8). */
  contentType?: string;
  /** '429': a Retry-After header value (seconds or an HTTP-date); none by default. */
  retryAfter?: number | string;
  /** '429': the reason text (default the per-user limit message). */
  reason?: string;
  /** 'slow': how long the body takes to trickle out, ms (default 2000). */
  delayMs?: number;
  /** 'oversize': the body size in bytes (default 60 MB). */
  bytes?: number;
}

export interface RandomFaults {
  /** Probability (0..1) that an API request answers 500/502/503. */
  rate5xx?: number;
  /** Of every `every` API requests, the last `length` answer 503. */
  burst5xx?: { every: number; length: number };
  /** Of every `every` API requests, the last `length` answer 429 (no Retry-After). */
  storm429?: { every: number; length: number };
  /** Seed of the random-fault PRNG (default: the simulator seed). */
  seed?: number;
  /** After each fitness feed page served with page >= 1, add this many new activities. */
  insertDuringPaging?: number;
  /**
   * Once, when fitness feed page 1 is served: delete this many of the newest activities
   * (already listed on page 0), so every later page shifts and a single pass skips as many.
   */
  deleteDuringPaging?: number;
}

export interface FaultOptions extends RandomFaults {
  /** Scripted faults queued at start. */
  script?: ScriptedFault[];
}

export interface FaultController {
  /** Queue scripted faults (consumed in order by matching requests). */
  push(...faults: ScriptedFault[]): void;
  /** Merge random-fault settings (resets the burst/storm request counter). */
  set(cfg: RandomFaults): void;
  /** Remove every scripted fault and random setting. */
  clear(): void;
  /** Scripted faults still queued (sum of remaining `times`). */
  pending(): number;
}

export type RandomHit = { status: 429 } | { status: 500 | 502 | 503 };

interface Queued {
  fault: ScriptedFault;
  left: number;
}

export class Faults implements FaultController {
  readonly #defaultSeed: number;
  #queue: Queued[] = [];
  #random: RandomFaults = {};
  #rng: Rng;
  #counter = 0;

  constructor(defaultSeed: number, opts?: FaultOptions) {
    this.#defaultSeed = defaultSeed;
    this.#rng = mulberry32(mixSeed(defaultSeed, 0xfa));
    if (opts) {
      const { script, ...random } = opts;
      if (script) this.push(...script);
      this.set(random);
    }
  }

  push(...faults: ScriptedFault[]): void {
    for (const fault of faults) {
      const times = fault.times ?? 1;
      if (!Number.isInteger(times) || times < 1) throw new Error('fault.times must be >= 1');
      if (fault.kind === 'status' && fault.status !== undefined) {
        if (!Number.isInteger(fault.status) || fault.status < 100 || fault.status > 599) {
          throw new Error('fault.status must be an HTTP status code');
        }
      }
      this.#queue.push({ fault, left: times });
    }
  }

  set(cfg: RandomFaults): void {
    for (const key of ['burst5xx', 'storm429'] as const) {
      const b = cfg[key];
      if (b && !(b.every >= 1 && b.length >= 0 && b.length <= b.every)) {
        throw new Error(`${key} needs every >= 1 and 0 <= length <= every`);
      }
    }
    this.#random = { ...this.#random, ...cfg };
    if (cfg.seed !== undefined) this.#rng = mulberry32(mixSeed(cfg.seed, 0xfa));
    this.#counter = 0;
  }

  clear(): void {
    this.#queue = [];
    this.#random = {};
    this.#rng = mulberry32(mixSeed(this.#defaultSeed, 0xfa));
    this.#counter = 0;
  }

  pending(): number {
    return this.#queue.reduce((s, q) => s + q.left, 0);
  }

  /** How many to delete now (once: the count is used up). */
  takeDeleteDuringPaging(): number {
    const n = Math.max(0, Math.min(1000, Math.floor(this.#random.deleteDuringPaging ?? 0)));
    this.#random = { ...this.#random, deleteDuringPaging: 0 };
    return n;
  }

  get insertDuringPaging(): number {
    return Math.max(0, Math.min(1000, Math.floor(this.#random.insertDuringPaging ?? 0)));
  }

  /** Take the first queued fault matching `path` (explicit match needed off the API side). */
  take(path: string, apiSide: boolean): ScriptedFault | undefined {
    const i = this.#queue.findIndex(({ fault: { match } }) => {
      if (match === undefined) return apiSide;
      if (typeof match === 'string') return match === path;
      match.lastIndex = 0;
      return match.test(path);
    });
    const q = this.#queue[i];
    if (!q) return undefined;
    q.left--;
    if (q.left <= 0) this.#queue.splice(i, 1);
    return q.fault;
  }

  /** Random chaos for one API request. */
  roll(): RandomHit | undefined {
    const k = this.#counter++;
    const { storm429, burst5xx, rate5xx } = this.#random;
    if (storm429 && storm429.length > 0 && k % storm429.every >= storm429.every - storm429.length) {
      return { status: 429 };
    }
    if (burst5xx && burst5xx.length > 0 && k % burst5xx.every >= burst5xx.every - burst5xx.length) {
      return { status: 503 };
    }
    if (rate5xx && rate5xx > 0 && this.#rng() < rate5xx) {
      const r = this.#rng();
      return { status: r < 0.4 ? 500 : r < 0.7 ? 502 : 503 };
    }
    return undefined;
  }
}
