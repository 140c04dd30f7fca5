/**
 * OAuth 2.0 authorization-code flow against runkeeper.com (draft-15 era: no PKCE, no
 * refresh tokens, tokens live until revoked). Errors map to OAuthError with a code the
 * caller can show; nothing here logs or returns the secret, the code or the token in a
 * message.
 */
import { OAuthError } from '../errors.ts';
import { type FetchFn, httpRequest } from './http.ts';
import { TokenResponseSchema } from './schemas.ts';

export interface OAuthConfig {
  authBaseUrl: string;
  clientId: string;
  redirectUri: string;
  timeoutMs?: number;
  fetch?: FetchFn;
}

export function authorizeUrl(cfg: OAuthConfig, state: string): string {
  const u = new URL(`${cfg.authBaseUrl.replace(/\/+$/, '')}/apps/authorize`);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', cfg.clientId);
  u.searchParams.set('redirect_uri', cfg.redirectUri);
  u.searchParams.set('state', state);
  return u.toString();
}

/** Exchange a code for a token (form-encoded, credentials in the body). */
export async function exchangeCode(
  cfg: OAuthConfig,
  clientSecret: string,
  code: string,
): Promise<string> {
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    client_id: cfg.clientId,
    client_secret: clientSecret,
    redirect_uri: cfg.redirectUri,
  }).toString();
  const res = await httpRequest(`${cfg.authBaseUrl.replace(/\/+$/, '')}/apps/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body,
    timeoutMs: cfg.timeoutMs ?? 15_000,
    maxBytes: 64 * 1024,
    fetch: cfg.fetch ?? fetch,
  }).catch(() => {
    throw new OAuthError('network', 'the token endpoint could not be reached', undefined, true);
  });
  const text = res.text();
  if (/text\/html/i.test(res.contentType) || /^\s*</.test(text)) {
    throw new OAuthError(
      'html',
      `the token endpoint answered with an HTML page (${res.status})`,
      res.status,
      true,
    );
  }
  if (res.status >= 500)
    throw new OAuthError(
      'server_error',
      `the token endpoint failed (${res.status})`,
      res.status,
      true,
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new OAuthError(
      'non_json',
      `the token endpoint answered with non-JSON (${res.status})`,
      res.status,
    );
  }
  if (res.status !== 200) {
    const err = (json as { error?: unknown } | null)?.error;
    const code = typeof err === 'string' && /^[a-z_]{1,64}$/.test(err) ? err : 'token_error';
    throw new OAuthError(code, `the token endpoint refused the code: ${code}`, res.status);
  }
  const parsed = TokenResponseSchema.safeParse(json);
  if (!parsed.success)
    throw new OAuthError('no_token', 'the token response has no access_token', res.status);
  const type = parsed.data.token_type;
  if (type !== undefined && type.toLowerCase() !== 'bearer') {
    throw new OAuthError('token_type', 'the token response is not a Bearer token', res.status);
  }
  return parsed.data.access_token;
}

/** Revoke a token (client-initiated de-authorization). 200 and 204 both mean done. */
export async function deauthorize(cfg: OAuthConfig, token: string): Promise<void> {
  const res = await httpRequest(`${cfg.authBaseUrl.replace(/\/+$/, '')}/apps/de-authorize`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ access_token: token }).toString(),
    timeoutMs: cfg.timeoutMs ?? 15_000,
    maxBytes: 64 * 1024,
    fetch: cfg.fetch ?? fetch,
  });
  if (res.status !== 200 && res.status !== 204) {
    throw new OAuthError(
      'deauthorize_failed',
      `de-authorization failed (${res.status})`,
      res.status,
      res.status >= 500,
    );
  }
}
