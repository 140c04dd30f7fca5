/**
 * The call budget: one exact sliding window per user, shared by every caller.
 *
 * Invariant: no window of `windowMs` (plus a small guard for clock skew) ever holds more
 * than `limit - margin` granted calls for one key. A token bucket cannot promise this
 * (it can allow up to 2× the limit in a sliding window, hazard H3), so the state is the
 * list of call timestamps inside the window itself (at most `limit` numbers).
 *
 * The algorithm is pure (`decide`, `forecast`) and runs over a `BudgetStore` with
 * compare-and-swap, so the in-memory, SQLite and DynamoDB budgets share it and pass the
 * same contract suite (test/contract/call-budget.contract.ts).
 */

export interface BudgetConfig {
  /** Calls allowed per window by the API (default 100). */
  limit: number;
  /** The API's window (default 900 s). */
  windowMs: number;
  /** Calls kept in reserve below the limit (default 2). */
  margin: number;
  /** Extra time added to the window to absorb clock skew and request latency (default 1 s). */
  guardMs: number;
}

export const DEFAULT_BUDGET: BudgetConfig = {
  limit: 100,
  windowMs: 900_000,
  margin: 2,
  guardMs: 1_000,
};

/** What is persisted per key. */
export interface BudgetState {
  /** Timestamps (epoch ms) of granted calls still inside the window, ascending. */
  calls: number[];
  /** A lower limit learnt from a 429 (calls per `limitWindowMs`), if any. */
  learnedLimit?: number | undefined;
  learnedWindowMs?: number | undefined;
  /** No call before this time (set by a 429). */
  blockedUntil: number;
}

export const EMPTY_STATE: BudgetState = { calls: [], blockedUntil: 0 };

export type Grant = { granted: true; remaining: number } | { granted: false; waitUntil: number };

export interface BudgetView {
  limit: number;
  windowMs: number;
  capacity: number;
  used: number;
  available: number;
  blockedUntil: number;
  /** Earliest time the next call may be made (now when available). */
  nextSlotAt: number;
}

export interface Penalty {
  /** No call before this time. */
  waitUntil: number;
  /** A limit revealed by the 429 reason text; only ever lowers the budget. */
  revealedLimit?: { calls: number; windowMs: number } | undefined;
}

/** The port every outgoing API call consults. */
export interface CallBudget {
  /** Take one call now if the window allows it; never blocks. */
  tryAcquire(key: string, now: number): Promise<Grant>;
  /** Record a call that was already made outside `tryAcquire` (e.g. before the user was known). */
  record(key: string, at: number): Promise<void>;
  /** A 429 was received: block until `waitUntil` and lower the limit when revealed. */
  penalize(key: string, now: number, penalty: Penalty): Promise<void>;
  inspect(key: string, now: number): Promise<BudgetView>;
  /** The times at which the next `n` calls could be made, at least `spacingMs` apart. Read-only. */
  forecast(key: string, now: number, n: number, spacingMs?: number): Promise<number[]>;
  readonly config: BudgetConfig;
}

export function effective(
  state: BudgetState,
  cfg: BudgetConfig,
): { limit: number; windowMs: number; capacity: number } {
  const limit = Math.min(cfg.limit, state.learnedLimit ?? Number.POSITIVE_INFINITY);
  const windowMs = Math.max(cfg.windowMs, state.learnedWindowMs ?? 0);
  // Always allow at least one call per window, however small a learnt limit is.
  const margin = Math.min(cfg.margin, limit - 1);
  return { limit, windowMs: windowMs + cfg.guardMs, capacity: Math.max(1, limit - margin) };
}

export function prune(state: BudgetState, now: number, cfg: BudgetConfig): BudgetState {
  const { windowMs } = effective(state, cfg);
  const calls = state.calls.filter((t) => t > now - windowMs).sort((a, b) => a - b);
  return { ...state, calls };
}

export function view(state: BudgetState, now: number, cfg: BudgetConfig): BudgetView {
  const s = prune(state, now, cfg);
  const e = effective(s, cfg);
  const used = s.calls.length;
  const available = now < s.blockedUntil ? 0 : Math.max(0, e.capacity - used);
  return {
    limit: e.limit,
    windowMs: e.windowMs,
    capacity: e.capacity,
    used,
    available,
    blockedUntil: s.blockedUntil,
    nextSlotAt: nextSlot(s, now, cfg),
  };
}

function nextSlot(s: BudgetState, now: number, cfg: BudgetConfig): number {
  const e = effective(s, cfg);
  let t = Math.max(now, s.blockedUntil);
  const inWindow = s.calls.filter((c) => c > t - e.windowMs);
  if (inWindow.length >= e.capacity) {
    // The slot frees when enough of the oldest calls leave the window.
    const idx = inWindow.length - e.capacity;
    t = Math.max(t, inWindow[idx]! + e.windowMs);
  }
  return t;
}

/** Decide one call at `now`; returns the new state to persist when granted. */
export function decide(
  state: BudgetState,
  now: number,
  cfg: BudgetConfig,
): { grant: Grant; next: BudgetState } {
  const s = prune(state, now, cfg);
  const e = effective(s, cfg);
  if (now < s.blockedUntil || s.calls.length >= e.capacity) {
    return { grant: { granted: false, waitUntil: nextSlot(s, now, cfg) }, next: s };
  }
  const calls = [...s.calls, now];
  return {
    grant: { granted: true, remaining: e.capacity - calls.length },
    next: { ...s, calls },
  };
}

export function applyPenalty(
  state: BudgetState,
  now: number,
  p: Penalty,
  cfg: BudgetConfig,
): BudgetState {
  const s = prune(state, now, cfg);
  const next: BudgetState = { ...s, blockedUntil: Math.max(s.blockedUntil, p.waitUntil) };
  const r = p.revealedLimit;
  if (r && r.calls > 0 && r.windowMs > 0) {
    const cur = effective(s, cfg);
    // Compare as rates over the longer window so "5 per minute" and "100 per 15 min" compare.
    if (r.calls < cur.limit || r.windowMs > cfg.windowMs) {
      next.learnedLimit = Math.min(r.calls, s.learnedLimit ?? r.calls);
      next.learnedWindowMs = Math.max(r.windowMs, s.learnedWindowMs ?? 0);
    }
  }
  return next;
}

export function forecastSlots(
  state: BudgetState,
  now: number,
  n: number,
  cfg: BudgetConfig,
  spacingMs = 0,
): number[] {
  let s = prune(state, now, cfg);
  const out: number[] = [];
  let t = Math.max(now, s.blockedUntil);
  for (let i = 0; i < n; i++) {
    if (i > 0) t = Math.max(t, out[i - 1]! + spacingMs);
    t = nextSlot(s, t, cfg);
    out.push(t);
    s = { ...s, calls: [...s.calls, t] };
  }
  return out;
}

export function budgetKey(userId: string): string {
  return `user#${userId}`;
}

/** Storage for budget states with compare-and-swap on an opaque version. */
export interface BudgetStore {
  load(key: string): Promise<{ state: BudgetState; version: number }>;
  /** Returns false when the stored version is no longer `expected` (somebody else wrote). */
  save(key: string, state: BudgetState, expected: number): Promise<boolean>;
}

/** The shared algorithm over any store; retries on write conflicts. */
export class SlidingWindowBudget implements CallBudget {
  readonly config: BudgetConfig;
  readonly #store: BudgetStore;
  constructor(store: BudgetStore, config: Partial<BudgetConfig> = {}) {
    this.#store = store;
    this.config = { ...DEFAULT_BUDGET, ...config };
  }

  async #update<T>(
    key: string,
    fn: (s: BudgetState) => { next: BudgetState; result: T; write: boolean },
  ): Promise<T> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const { state, version } = await this.#store.load(key);
      const { next, result, write } = fn(state);
      if (!write) return result;
      if (await this.#store.save(key, next, version)) return result;
    }
    throw new Error('call budget: too many concurrent updates');
  }

  tryAcquire(key: string, now: number): Promise<Grant> {
    return this.#update(key, (s) => {
      const { grant, next } = decide(s, now, this.config);
      return { next, result: grant, write: grant.granted };
    });
  }

  record(key: string, at: number): Promise<void> {
    return this.#update(key, (s) => {
      const p = prune(s, at, this.config);
      return {
        next: { ...p, calls: [...p.calls, at].sort((a, b) => a - b) },
        result: undefined,
        write: true,
      };
    });
  }

  penalize(key: string, now: number, penalty: Penalty): Promise<void> {
    return this.#update(key, (s) => ({
      next: applyPenalty(s, now, penalty, this.config),
      result: undefined,
      write: true,
    }));
  }

  async inspect(key: string, now: number): Promise<BudgetView> {
    const { state } = await this.#store.load(key);
    return view(state, now, this.config);
  }

  async forecast(key: string, now: number, n: number, spacingMs = 0): Promise<number[]> {
    const { state } = await this.#store.load(key);
    return forecastSlots(state, now, n, this.config, spacingMs);
  }
}

/** In-memory store (tests, the simulator-backed demo, a single process). */
export class MemoryBudgetStore implements BudgetStore {
  readonly #items = new Map<string, { state: BudgetState; version: number }>();
  async load(key: string) {
    const it = this.#items.get(key);
    return it
      ? { state: structuredClone(it.state), version: it.version }
      : { state: { ...EMPTY_STATE, calls: [] }, version: 0 };
  }
  async save(key: string, state: BudgetState, expected: number) {
    const cur = this.#items.get(key)?.version ?? 0;
    if (cur !== expected) return false;
    this.#items.set(key, { state: structuredClone(state), version: cur + 1 });
    return true;
  }
}

export function memoryBudget(config: Partial<BudgetConfig> = {}): SlidingWindowBudget {
  return new SlidingWindowBudget(new MemoryBudgetStore(), config);
}

/** Waits for a grant (local mode only; Lambdas re-queue with a delay instead). */
export async function acquireBlocking(
  budget: CallBudget,
  key: string,
  clock: { now(): number; sleep(ms: number, signal?: AbortSignal): Promise<void> },
  signal?: AbortSignal,
): Promise<void> {
  for (;;) {
    const g = await budget.tryAcquire(key, clock.now());
    if (g.granted) return;
    await clock.sleep(Math.max(1, g.waitUntil - clock.now()), signal);
  }
}
