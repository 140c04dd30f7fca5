/**
 * Strava OAuth 2 (developers.strava.com/docs/authentication): the authorization-code flow
 * with short-lived access tokens (6 h) and refresh tokens that may rotate on every refresh.
 * The rotated refresh token must be stored before the new access token is used: the old one
 * may no longer work.
 */
export interface StravaTokens {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms. */
  expiresAt: number;
  athleteId?: string | undefined;
  scope?: string | undefined;
}

/** Where one athlete's Strava tokens live (0600 file locally, SSM SecureString in AWS). */
export interface StravaTokenStore {
  get(): Promise<StravaTokens | undefined>;
  /** Replaces the tokens atomically (a crash leaves the old or the new set, never a mix). */
  put(t: StravaTokens): Promise<void>;
}

export interface StravaApp {
  /** e.g. https://www.strava.com/oauth */
  oauthBaseUrl: string;
  clientId: string;
}

export const STRAVA_SCOPE = 'activity:write,activity:read_all';

export class StravaAuthError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = 'StravaAuthError';
    this.status = status;
  }
}

export function stravaAuthorizeUrl(app: StravaApp, redirectUri: string, state: string): string {
  const u = new URL(`${app.oauthBaseUrl}/authorize`);
  u.searchParams.set('client_id', app.clientId);
  u.searchParams.set('redirect_uri', redirectUri);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('approval_prompt', 'auto');
  u.searchParams.set('scope', STRAVA_SCOPE);
  u.searchParams.set('state', state);
  return u.toString();
}

async function tokenRequest(
  app: StravaApp,
  form: Record<string, string>,
  fetchFn: typeof fetch,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetchFn(`${app.oauthBaseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      signal: signal
        ? AbortSignal.any([signal, AbortSignal.timeout(30_000)])
        : AbortSignal.timeout(30_000),
    });
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    throw new StravaAuthError(`the Strava token request failed (${(e as Error).message})`);
  }
  const text = await res.text();
  if (!res.ok) {
    // The body names the field at fault, never a secret.
    throw new StravaAuthError(`Strava refused the token request (HTTP ${res.status})`, res.status);
  }
  return JSON.parse(text) as Record<string, unknown>;
}

function toTokens(j: Record<string, unknown>, prev?: StravaTokens): StravaTokens {
  const access = j.access_token;
  const refresh = j.refresh_token ?? prev?.refreshToken;
  const exp = Number(j.expires_at);
  if (typeof access !== 'string' || typeof refresh !== 'string' || !Number.isFinite(exp)) {
    throw new StravaAuthError('the Strava token answer is incomplete');
  }
  const athlete = j.athlete as { id?: unknown } | undefined;
  return {
    accessToken: access,
    refreshToken: refresh,
    expiresAt: exp * 1000,
    athleteId: athlete?.id !== undefined ? String(athlete.id) : prev?.athleteId,
    scope: typeof j.scope === 'string' ? j.scope : prev?.scope,
  };
}

export async function exchangeStravaCode(
  app: StravaApp,
  clientSecret: string,
  code: string,
  fetchFn: typeof fetch = fetch,
): Promise<StravaTokens> {
  const j = await tokenRequest(
    app,
    {
      client_id: app.clientId,
      client_secret: clientSecret,
      code,
      grant_type: 'authorization_code',
    },
    fetchFn,
  );
  return toTokens(j);
}

export async function refreshStravaTokens(
  app: StravaApp,
  clientSecret: string,
  prev: StravaTokens,
  fetchFn: typeof fetch = fetch,
  signal?: AbortSignal,
): Promise<StravaTokens> {
  const j = await tokenRequest(
    app,
    {
      client_id: app.clientId,
      client_secret: clientSecret,
      grant_type: 'refresh_token',
      refresh_token: prev.refreshToken,
    },
    fetchFn,
    signal,
  );
  return toTokens(j, prev);
}

/** Refresh this long before expiry (Strava: a token expiring within an hour may be refreshed). */
export const REFRESH_AHEAD_MS = 3_600_000;
