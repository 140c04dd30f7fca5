/**
 * The error taxonomy every caller can act on. Each class says what to do next:
 * - RateLimited: wait until `waitUntil` (ms epoch), then retry; spend no calls before.
 * - Revoked / Unauthorized: the token is dead; stop all calls for this account.
 * - NotFound: the resource is gone (deleted upstream).
 * - Transient: retry later with backoff (5xx, timeouts, resets, HTML maintenance pages).
 * - Invalid: the payload is unusable; permanent, keep `rawBody` for diagnosis.
 * - BudgetExhausted: our own budget refused the call (no request was sent).
 * - OAuthError: the authorization server refused (invalid_grant, ...).
 * Messages never contain tokens, secrets, codes or state values.
 */
import { redactSecrets } from './redact.ts';
export type HealthGraphErrorKind =
  | 'RateLimited'
  | 'Revoked'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'Transient'
  | 'Invalid'
  | 'BudgetExhausted'
  | 'OAuth'
  | 'UnsafeUri';

export abstract class HealthGraphError extends Error {
  abstract readonly kind: HealthGraphErrorKind;
  /** True when retrying later can succeed. */
  abstract readonly retryable: boolean;
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    // Messages quote upstream reason texts: nothing token-shaped is carried on.
    super(redactSecrets(message), options);
    this.status = status;
    this.name = new.target.name;
  }
}

export class RateLimitedError extends HealthGraphError {
  readonly kind = 'RateLimited' as const;
  readonly retryable = true;
  /** Epoch ms before which no call may be made. */
  readonly waitUntil: number;
  /** A lower limit revealed by the 429 reason text (calls per window), if any. */
  readonly revealedLimit: { calls: number; windowMs: number } | undefined;
  constructor(
    message: string,
    waitUntil: number,
    revealedLimit?: { calls: number; windowMs: number },
  ) {
    super(message, 429);
    this.waitUntil = waitUntil;
    this.revealedLimit = revealedLimit;
  }
}

export class RevokedError extends HealthGraphError {
  readonly kind = 'Revoked' as const;
  readonly retryable = false;
  readonly deleteHealth: boolean;
  constructor(message: string, deleteHealth = false) {
    super(message, 403);
    this.deleteHealth = deleteHealth;
  }
}

export class UnauthorizedError extends HealthGraphError {
  readonly kind = 'Unauthorized' as const;
  readonly retryable = false;
  constructor(message = 'access token missing or invalid (401)') {
    super(message, 401);
  }
}

/** 403 other than Revoked, e.g. "Insufficient permission": a configuration error. */
export class ForbiddenError extends HealthGraphError {
  readonly kind = 'Forbidden' as const;
  readonly retryable = false;
}

export class NotFoundError extends HealthGraphError {
  readonly kind = 'NotFound' as const;
  readonly retryable = false;
}

export class TransientError extends HealthGraphError {
  readonly kind = 'Transient' as const;
  readonly retryable = true;
}

/** No connection at all (refused, unknown host, no route): the address is probably wrong or offline. */
export class UnreachableError extends TransientError {}

export class InvalidPayloadError extends HealthGraphError {
  readonly kind = 'Invalid' as const;
  readonly retryable = false;
  /** The body as received (truncated to 64 KiB) for diagnosis. */
  readonly rawBody: string;
  constructor(message: string, rawBody: string, status?: number) {
    super(message, status);
    this.rawBody = rawBody.length > 65536 ? rawBody.slice(0, 65536) : rawBody;
  }
}

export class BudgetExhaustedError extends HealthGraphError {
  readonly kind = 'BudgetExhausted' as const;
  readonly retryable = true;
  readonly waitUntil: number;
  constructor(waitUntil: number) {
    super(`call budget exhausted until ${new Date(waitUntil).toISOString()}`);
    this.waitUntil = waitUntil;
  }
}

export class OAuthError extends HealthGraphError {
  readonly kind = 'OAuth' as const;
  readonly retryable: boolean;
  /** The OAuth error code (e.g. `invalid_grant`), or a local one (`non_json`, `html`, `server_error`). */
  readonly code: string;
  constructor(code: string, message: string, status?: number, retryable = false) {
    super(message, status);
    this.code = code;
    this.retryable = retryable;
  }
}

export class UnsafeUriError extends HealthGraphError {
  readonly kind = 'UnsafeUri' as const;
  readonly retryable = false;
}

export function isHealthGraphError(e: unknown): e is HealthGraphError {
  return e instanceof HealthGraphError;
}

/** A short, secret-free description of any thrown value, for ledgers and logs. */
/** One line for logs and the ledger; anything token-shaped is redacted. */
export function describeError(e: unknown): string {
  if (e instanceof HealthGraphError) return redactSecrets(`${e.kind}: ${e.message}`).slice(0, 500);
  if (e instanceof Error) return redactSecrets(`${e.name}: ${e.message}`).slice(0, 500);
  return redactSecrets(String(e)).slice(0, 500);
}
