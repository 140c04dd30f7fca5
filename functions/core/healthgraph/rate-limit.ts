/**
 * What a 429 tells us: when to call again (Retry-After in either form, or the window
 * named in the reason text) and, sometimes, the limit itself
 * ("Rate-limit exceeded. rate limit is 100 calls per 15 minutes for this user").
 */

const UNIT_MS: Record<string, number> = {
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

export interface ParsedLimit {
  calls: number;
  windowMs: number;
  /** The text names the user (a per-user limit) rather than the whole app. */
  perUser: boolean;
}

/** Parses "rate limit is N calls per [M] minutes|hours|days|days1" (tolerant of plural and junk suffixes). */
export function parseLimitReason(reason: string | undefined): ParsedLimit | undefined {
  if (!reason) return undefined;
  const m =
    /rate limit is\s+([0-9][0-9,]*)\s+calls?\s+per\s+(?:([0-9]+)\s+)?(second|minute|hour|day)s?/i.exec(
      reason,
    );
  if (!m) return undefined;
  const calls = Number(m[1]!.replaceAll(',', ''));
  const n = m[2] ? Number(m[2]) : 1;
  const unit = UNIT_MS[m[3]!.toLowerCase()]!;
  if (!Number.isFinite(calls) || calls <= 0 || n <= 0) return undefined;
  return { calls, windowMs: n * unit, perUser: /\buser\b/i.test(reason) };
}

/**
 * Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3). Returns the epoch ms
 * to wait until, or undefined for a missing, past or garbage value. Absurd waits are capped.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number,
  capMs = 24 * 3_600_000,
): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^[0-9]{1,10}$/.test(v)) {
    return now + Math.min(Number(v) * 1000, capMs);
  }
  const t = Date.parse(v);
  if (Number.isNaN(t) || t <= now) return undefined;
  return Math.min(t, now + capMs);
}

/** When to call again after a 429: Retry-After, else the named window, else one default window. */
export function rateLimitWaitUntil(
  retryAfter: string | null | undefined,
  reason: string | undefined,
  now: number,
  defaultWindowMs: number,
): { waitUntil: number; limit: ParsedLimit | undefined } {
  const limit = parseLimitReason(reason);
  const fromHeader = parseRetryAfter(retryAfter, now);
  if (fromHeader !== undefined) return { waitUntil: fromHeader, limit };
  const windowMs = limit ? Math.min(limit.windowMs, 24 * 3_600_000) : defaultWindowMs;
  return { waitUntil: now + windowMs, limit };
}
