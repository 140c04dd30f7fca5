/**
 * Redaction of anything token-shaped before text reaches a log, an error message, the ledger
 * (`lastError`, shown by `rk-sync status`) or a terminal. Upstream reason texts and error
 * messages are untrusted: one that quotes our Authorization header must not carry the token
 * on. Numeric ids, paths and words stay readable.
 */
const RULES: readonly [RegExp, string][] = [
  // Authorization schemes with their credential.
  [/\b(Bearer|Basic|Digest)\s+[^\s"',;}\]]+/gi, '$1 [redacted]'],
  // Names whose value is always a secret, in header, JSON, query or form syntax.
  [
    /\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key|access_token|refresh_token|id_token|client_secret|password)(["']?\s*[:=]\s*["']?)(?!\[redacted\]|(?:Bearer|Basic|Digest)\s+\[redacted\])[^\s"'&,;}\]]+/gi,
    '$1$2[redacted]',
  ],
  // Generic names (code, state, token, …): only a value long enough to be a credential, so
  // "status code: 500" stays readable.
  [
    /\b(code|state|token|secret|invite)(["']?\s*[:=]\s*["']?)(?!\[redacted\])[^\s"'&,;}\]]{8,}/gi,
    '$1$2[redacted]',
  ],
  // Long opaque values (tokens, secrets, codes): ≥ 20 word characters mixing letters and digits.
  [
    /(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])/g,
    '[redacted]',
  ],
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, to] of RULES) out = out.replace(re, to);
  return out;
}

/** A log record's extra fields with every string value redacted (numbers, flags untouched). */
export function redactFields(extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extra)) {
    out[k] =
      typeof v === 'string'
        ? redactSecrets(v)
        : v !== null && typeof v === 'object'
          ? JSON.parse(redactSecrets(JSON.stringify(v)))
          : v;
  }
  return out;
}
