/**
 * The Strava API v3 client of the pusher. Every request first takes a slot from the
 * application's `MultiWindowBudget` (upload class for POST /uploads and POST /activities, read
 * class for the rest), every response's limit headers are obeyed, and retries spend slots too.
 * Access tokens are refreshed ahead of expiry; the rotated refresh token is stored before the
 * new access token is used. Secrets are never logged or put in error messages.
 */
import type { Clock } from '../clock.ts';
import type { Log } from '../ports.ts';
import type { CallClass, MultiWindowBudget } from './limits.ts';
import { parseRateHeaders } from './limits.ts';
import {
  REFRESH_AHEAD_MS,
  refreshStravaTokens,
  type StravaApp,
  StravaAuthError,
  type StravaTokenStore,
} from './oauth.ts';

export class StravaApiError extends Error {
  readonly status: number;
  /** Retrying later may help (5xx, network, 429). */
  readonly retryable: boolean;
  constructor(message: string, status: number, retryable: boolean) {
    super(message);
    this.name = 'StravaApiError';
    this.status = status;
    this.retryable = retryable;
  }
}

/** The athlete revoked access (or the refresh token no longer works): run `rk-sync link strava` again. */
export class StravaRevokedError extends Error {
  constructor(message = 'Strava access was revoked; link Strava again') {
    super(message);
    this.name = 'StravaRevokedError';
  }
}

/** Lambda mode: no slot now; retry at `waitUntil`. */
export class StravaBudgetWait extends Error {
  readonly waitUntil: number;
  constructor(waitUntil: number) {
    super(`Strava rate limit: next slot at ${new Date(waitUntil).toISOString()}`);
    this.name = 'StravaBudgetWait';
    this.waitUntil = waitUntil;
  }
}

export interface StravaClientDeps {
  app: StravaApp & { apiBaseUrl: string };
  clientSecret: () => Promise<string>;
  tokens: StravaTokenStore;
  budget: MultiWindowBudget;
  clock: Clock;
  log: Log;
  fetch?: typeof fetch;
  signal?: AbortSignal | undefined;
  /** Local mode sleeps for a slot; a Lambda gets StravaBudgetWait instead. */
  waitForBudget: boolean;
  /** Attempts per call for 5xx/network errors (each spends a slot). */
  attempts?: number;
}

export interface StravaResponse {
  status: number;
  json: unknown;
}

export class StravaClient {
  readonly #d: StravaClientDeps;
  readonly #fetch: typeof fetch;
  /** Calls made (for tests and the bench). */
  calls = 0;
  constructor(d: StravaClientDeps) {
    this.#d = d;
    this.#fetch = d.fetch ?? fetch;
  }

  async #accessToken(force = false): Promise<string> {
    const t = await this.#d.tokens.get();
    if (!t) throw new StravaRevokedError('Strava is not linked: run rk-sync link strava');
    if (!force && t.expiresAt - this.#d.clock.now() > REFRESH_AHEAD_MS) return t.accessToken;
    let next: Awaited<ReturnType<typeof refreshStravaTokens>>;
    try {
      next = await refreshStravaTokens(
        this.#d.app,
        await this.#d.clientSecret(),
        t,
        this.#fetch,
        this.#d.signal,
      );
    } catch (e) {
      if (e instanceof StravaAuthError && e.status !== undefined && e.status < 500) {
        throw new StravaRevokedError();
      }
      throw new StravaApiError(
        (e as Error).message,
        e instanceof StravaAuthError ? (e.status ?? 0) : 0,
        true,
      );
    }
    await this.#d.tokens.put(next); // the rotated refresh token first, then use the access token
    this.#d.log.info('Strava access token refreshed', {
      expiresAt: new Date(next.expiresAt).toISOString(),
    });
    return next.accessToken;
  }

  async #slot(kind: CallClass): Promise<void> {
    for (;;) {
      const now = this.#d.clock.now();
      const g = await this.#d.budget.tryAcquire(kind, now);
      if (g.granted) return;
      if (!this.#d.waitForBudget) throw new StravaBudgetWait(g.waitUntil);
      await this.#d.clock.sleep(Math.max(1, g.waitUntil - now), this.#d.signal);
    }
  }

  /** One logical call: slot, request, header bookkeeping, refresh-once on 401, bounded retries. */
  async request(
    kind: CallClass,
    method: string,
    path: string,
    body?: FormData | URLSearchParams,
  ): Promise<StravaResponse> {
    const attempts = this.#d.attempts ?? 4;
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const token = await this.#accessToken();
      await this.#slot(kind);
      this.calls++;
      let res: Response;
      try {
        res = await this.#fetch(`${this.#d.app.apiBaseUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}` },
          body,
          redirect: 'manual',
          signal: this.#d.signal
            ? AbortSignal.any([this.#d.signal, AbortSignal.timeout(60_000)])
            : AbortSignal.timeout(60_000),
        });
      } catch (e) {
        if (this.#d.signal?.aborted) throw this.#d.signal.reason;
        if (attempt >= attempts)
          throw new StravaApiError(`network error (${(e as Error).message})`, 0, true);
        await this.#backoff(attempt);
        continue;
      }
      const now = this.#d.clock.now();
      const headers = parseRateHeaders(res.headers);
      await this.#d.budget.observe(headers, now);
      const text = await res.text();
      if (res.status === 401) {
        if (refreshed) throw new StravaRevokedError();
        refreshed = true;
        await this.#accessToken(true);
        continue;
      }
      if (res.status === 429) {
        this.#d.log.warn('Strava answered 429: blocking until the window resets', {
          path: `${method} ${path.replace(/\d+/g, ':id')}`,
        });
        await this.#d.budget.penalize(kind, headers, now);
        if (attempt >= attempts) throw new StravaApiError('rate limited (HTTP 429)', 429, true);
        continue; // the next #slot waits for the boundary
      }
      if (res.status >= 500) {
        if (attempt >= attempts)
          throw new StravaApiError(`Strava server error (HTTP ${res.status})`, res.status, true);
        await this.#backoff(attempt);
        continue;
      }
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        throw new StravaApiError(
          `unreadable answer (HTTP ${res.status})`,
          res.status,
          res.status >= 500,
        );
      }
      if (res.status >= 400) {
        const msg = (json as { message?: unknown } | undefined)?.message;
        throw new StravaApiError(
          `Strava refused ${method} ${path.replace(/\d{3,}/g, ':id')} (HTTP ${res.status}${typeof msg === 'string' ? `: ${msg.slice(0, 200)}` : ''})`,
          res.status,
          false,
        );
      }
      return { status: res.status, json };
    }
  }

  async #backoff(attempt: number): Promise<void> {
    const ms = Math.min(60_000, 1_000 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    await this.#d.clock.sleep(ms, this.#d.signal);
  }
}
