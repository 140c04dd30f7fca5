/**
 * GET /authorize?invite=…: starts the OAuth flow with an owner-minted invite (every link)
 * and redirects to Runkeeper with a single-use state bound to an HttpOnly cookie.
 */
import { DynamoAuthStateStore } from '../../adapters/aws/dynamo.ts';
import type { AuthStateStore } from '../../core/ports.ts';
import { beginLink, LinkError, STATE_TTL_MS } from '../../core/sync/link.ts';
import type { EnvOf } from '../env.ts';
import {
  type HttpEvent,
  type HttpResult,
  htmlPage,
  linkCookie,
  MAX_QUERY_CHARS,
  parseQuery,
  redirectUriFor,
  SECURITY_HEADERS,
} from '../http.ts';
import { wrap } from '../middleware.ts';
import { type Platform, safeError } from '../platform.ts';

/** Only the OAuth states and invites: the role may touch nothing else (infra/grants.ts). */
export interface AuthorizePorts {
  states: AuthStateStore;
}

export function linkStores(tableName: string, p: Platform<'ddb'>): AuthorizePorts {
  return {
    states: new DynamoAuthStateStore(p.clients.ddb, tableName),
  };
}

export function createAuthorizeHandler(
  env: EnvOf<'authorize'>,
  p: Platform<'ddb'>,
  ports: AuthorizePorts = linkStores(env.TABLE_NAME, p),
) {
  const { states } = ports;
  return wrap(p, async (event: HttpEvent): Promise<HttpResult> => {
    try {
      const raw = event.rawQueryString ?? '';
      const invites = raw.length > MAX_QUERY_CHARS ? ['', ''] : (parseQuery(raw).invite ?? []);
      if (invites.length > 1) throw new LinkError('bad_request', 400, 'The link is malformed.');
      const oauth = {
        authBaseUrl: env.AUTH_BASE_URL,
        clientId: env.CLIENT_ID,
        redirectUri: redirectUriFor(env.REDIRECT_URI, event),
      };
      const r = await beginLink({ states, clock: p.clock, oauth }, invites[0]);
      p.logger.info('authorisation started', { invite: invites.length === 1 });
      return {
        statusCode: 302,
        headers: { location: r.url, ...SECURITY_HEADERS },
        cookies: [linkCookie(r.cookie, Math.floor(STATE_TTL_MS / 1000))],
        body: '',
      };
    } catch (e) {
      if (e instanceof LinkError) {
        p.logger.warn('authorisation refused', { reason: e.code });
        return htmlPage(e.status, 'Cannot link this account', e.message);
      }
      p.logger.error('authorize failed', { error: safeError(e) });
      return htmlPage(500, 'Something went wrong', 'Please try again later.');
    }
  });
}
