/**
 * POST /deauthorize: Runkeeper tells us a user revoked access, with `{"access_token": …}`.
 * The token is matched against the stored ones by comparing sha256 hashes in constant time.
 * A match marks the account REVOKED (all calls for it stop), deletes the stored token and,
 * with ON_REVOKE=delete, every stored version of the user's data and their ledger. The
 * answer is always 200 with an empty body: no oracle for token guessing (B12, X7).
 */
import { timingSafeEqual } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoAccountStore, DynamoLedger } from '../../adapters/aws/dynamo.ts';
import { S3ObjectStore } from '../../adapters/aws/s3.ts';
import { SsmTokenStore } from '../../adapters/aws/sqs-ssm.ts';
import { sha256Hex } from '../../core/hash.ts';
import type { Account, AccountStore, TokenStore } from '../../core/ports.ts';
import type { EnvOf } from '../env.ts';
import { type HttpEvent, type HttpResult, requestBody } from '../http.ts';
import { wrap } from '../middleware.ts';
import { type Platform, safeError } from '../platform.ts';

export const MAX_DEAUTH_BODY = 4096;
/** Every prefix whose second segment is the user id (see functions/core/keys.ts). */
export const USER_DATA_PREFIXES = [
  'raw/',
  'gpx/',
  'tcx/',
  'geojson/',
  'index/',
  'media/',
  'imports/',
  'report/',
];

const OK: HttpResult = { statusCode: 200, headers: { 'cache-control': 'no-store' }, body: '' };

function tokenFrom(event: HttpEvent): string | undefined {
  const body = requestBody(event);
  if (body.length === 0 || Buffer.byteLength(body, 'utf8') > MAX_DEAUTH_BODY) return undefined;
  let v: unknown;
  const type = (
    event.headers?.['content-type'] ??
    event.headers?.['Content-Type'] ??
    ''
  ).toLowerCase();
  if (type.includes('application/x-www-form-urlencoded')) {
    v = new URLSearchParams(body).get('access_token');
  } else {
    try {
      v = (JSON.parse(body) as { access_token?: unknown } | null)?.access_token;
    } catch {
      return undefined;
    }
  }
  return typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : undefined;
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

async function revoke(accounts: AccountStore, a: Account, now: number): Promise<boolean> {
  let cur: Account | undefined = a;
  for (let i = 0; i < 5 && cur; i++) {
    if (cur.status === 'REVOKED') return false;
    if (await accounts.save({ ...cur, status: 'REVOKED', revokedAt: now })) return true;
    cur = await accounts.get(a.userId);
  }
  return false;
}

export interface DeauthorizePorts {
  accounts: AccountStore;
  tokens: TokenStore;
  ledger?: { deleteUser(userId: string): Promise<number> } | undefined;
  store?: { purge(prefix: string): Promise<number> } | undefined;
}

export function awsDeauthorizePorts(
  env: EnvOf<'deauthorize'>,
  p: Platform<'ddb' | 'ssm' | 's3'>,
): DeauthorizePorts {
  return {
    accounts: new DynamoAccountStore(p.clients.ddb, env.TABLE_NAME),
    tokens: new SsmTokenStore(p.clients.ssm, env.TOKEN_PARAM_PREFIX),
    ledger: new DynamoLedger(p.clients.ddb, env.TABLE_NAME),
    store: env.BUCKET_NAME ? new S3ObjectStore(p.clients.s3, env.BUCKET_NAME) : undefined,
  };
}

export function createDeauthorizeHandler(
  env: EnvOf<'deauthorize'>,
  p: Platform<'ddb' | 'ssm' | 's3'>,
  ports: DeauthorizePorts = awsDeauthorizePorts(env, p),
) {
  const { accounts, tokens, ledger, store } = ports;
  return wrap(p, async (event: HttpEvent): Promise<HttpResult> => {
    try {
      const token = tokenFrom(event);
      if (!token) {
        p.logger.info('de-authorisation request without a usable token ignored');
        return OK;
      }
      const want = sha256Hex(token);
      let match: Account | undefined;
      // Compare against every stored token (no early exit), hashes only.
      for (const a of await accounts.list()) {
        const stored = await tokens.get(a.userId);
        if (stored !== undefined && sameHash(sha256Hex(stored), want) && !match) match = a;
      }
      if (!match) {
        p.logger.info('de-authorisation for an unknown token ignored');
        return OK;
      }
      const userId = match.userId;
      if (await revoke(accounts, match, p.clock.now())) {
        p.metrics.addMetric('AccountRevoked', MetricUnit.Count, 1);
      }
      await tokens.delete(userId);
      p.logger.warn('account de-authorised by Runkeeper; syncing stopped', {
        userId,
        onRevoke: env.ON_REVOKE,
      });
      if (env.ON_REVOKE === 'delete' && store) {
        let objects = 0;
        for (const prefix of USER_DATA_PREFIXES)
          objects += await store.purge(`${prefix}${userId}/`);
        const items = (await ledger?.deleteUser(userId)) ?? 0;
        p.logger.warn('revoked user data deleted', { userId, objects, ledgerItems: items });
      }
    } catch (e) {
      // Still 200: Runkeeper does not retry, and the answer must not reveal anything.
      p.logger.error('de-authorisation failed', { error: safeError(e) });
    }
    return OK;
  });
}
