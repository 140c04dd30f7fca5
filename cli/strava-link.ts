/**
 * `rk-sync link strava`: Strava's OAuth authorization-code flow on a loopback redirect
 * (`http://127.0.0.1:<port>/callback`; register 127.0.0.1 as the app's Authorization Callback
 * Domain). Same rules as `rk-sync auth`: an unguessable state per run, compared in constant
 * time and usable once; scope activity:write must be granted. The tokens and the client secret
 * (needed for every refresh) go to the 0600 credentials file; nothing secret is printed.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FileStravaTokens } from '../functions/adapters/local/push.ts';
import {
  exchangeStravaCode,
  type StravaTokens,
  stravaAuthorizeUrl,
} from '../functions/core/strava/oauth.ts';
import { CliError, EXIT, Interrupted } from './errors.ts';
import type { LocalStores } from './local.ts';

export const STRAVA_DEFAULTS = {
  oauthBaseUrl: 'https://www.strava.com/oauth',
  apiBaseUrl: 'https://www.strava.com/api/v3',
  port: 8974,
} as const;

export interface StravaLinkOptions {
  userId: string;
  clientId: string;
  clientSecret: string;
  oauthBaseUrl: string;
  apiBaseUrl: string;
  port: number;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  onUrl: (url: string) => void | Promise<void>;
  /** Where the tokens go instead of the local credentials file (the AWS stack's SSM). */
  sink?: ((t: StravaTokens) => Promise<void>) | undefined;
}

const page = (title: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>You can close this window.</p></body></html>`;

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function linkStravaLocal(
  stores: LocalStores,
  o: StravaLinkOptions,
): Promise<{ athleteId?: string | undefined }> {
  const state = randomBytes(32).toString('base64url');
  let consumed = false;
  let settle!: { resolve: (code: string) => void; reject: (e: unknown) => void };
  const got = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  got.catch(() => {});
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const reply = (status: number, title: string) => {
      res.writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      });
      res.end(page(title));
    };
    const s = url.searchParams.getAll('state');
    if (
      req.method !== 'GET' ||
      url.pathname !== '/callback' ||
      consumed ||
      s.length !== 1 ||
      !same(s[0]!, state)
    ) {
      return reply(400, 'Unexpected request');
    }
    consumed = true;
    const code = url.searchParams.get('code');
    const scope = url.searchParams.get('scope') ?? '';
    if (url.searchParams.has('error') || !code || !/^[A-Za-z0-9._~-]{1,512}$/.test(code)) {
      reply(400, 'Not authorised');
      return settle.reject(new CliError('access was not granted on strava.com', EXIT.unauthorised));
    }
    if (!scope.split(',').includes('activity:write')) {
      reply(400, 'Not authorised');
      return settle.reject(
        new CliError(
          'the "Upload your activities" permission (activity:write) was not granted; run link strava again and keep it ticked',
          EXIT.unauthorised,
        ),
      );
    }
    reply(200, 'rk-sync may now write to Strava');
    settle.resolve(code);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          `cannot listen on 127.0.0.1:${o.port} (${e.code ?? e.message}); choose another --port`,
          EXIT.failed,
        ),
      ),
    );
    server.listen(o.port, '127.0.0.1', () => resolve());
  });
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const timer = setTimeout(
    () =>
      settle.reject(
        new CliError(
          `no answer from the browser within ${Math.round(o.timeoutMs / 1000)} s`,
          EXIT.unauthorised,
        ),
      ),
    o.timeoutMs,
  );
  const onAbort = () => settle.reject(new Interrupted('linking interrupted'));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const app = { oauthBaseUrl: o.oauthBaseUrl, clientId: o.clientId };
    await o.onUrl(stravaAuthorizeUrl(app, redirectUri, state));
    const code = await got;
    let tokens: Awaited<ReturnType<typeof exchangeStravaCode>>;
    try {
      tokens = await exchangeStravaCode(app, o.clientSecret, code);
    } catch (e) {
      throw new CliError(
        `Strava refused the sign-in (${(e as Error).message}); check --client-id and the client secret`,
        EXIT.unauthorised,
      );
    }
    if (o.sink) {
      await o.sink(tokens);
      return { athleteId: tokens.athleteId };
    }
    await new FileStravaTokens(stores.tokens, o.userId).put(tokens);
    await stores.tokens.put('strava-client-secret', o.clientSecret);
    stores.db.setMeta('strava_client_id', o.clientId);
    stores.db.setMeta('strava_oauth_base_url', o.oauthBaseUrl);
    stores.db.setMeta('strava_api_base_url', o.apiBaseUrl);
    stores.db.setMeta('strava_user_id', o.userId);
    return { athleteId: tokens.athleteId };
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
