/**
 * Linking an account (the OAuth authorization-code flow, server side).
 *
 * `beginLink` mints an unguessable, single-use, expiring `state` bound to a browser cookie
 * (only their hashes are stored). It is allowed while no account is linked, or with a
 * one-time invite minted by the owner. `completeLink` consumes the state with a
 * conditional delete (a replay fails), checks the cookie, exchanges the code, resolves the
 * user via /user, stores the token in the TokenStore and records the account. A stranger
 * who finds the URL can neither link their account nor replace the owner's token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CallBudget } from '../budget.ts';
import { budgetKey } from '../budget.ts';
import type { Clock } from '../clock.ts';
import { describeError } from '../errors.ts';
import type { HealthGraphClient } from '../healthgraph/client.ts';
import { authorizeUrl, exchangeCode, type OAuthConfig } from '../healthgraph/oauth.ts';
import { assertUserId } from '../keys.ts';
import type { Account, AccountStore, AuthStateStore, Log, TokenStore } from '../ports.ts';

export const STATE_TTL_MS = 10 * 60_000;
export const INVITE_TTL_MS = 24 * 3_600_000;

export type LinkErrorCode =
  | 'not_allowed'
  | 'bad_request'
  | 'denied'
  | 'state_invalid'
  | 'state_expired'
  | 'cookie_mismatch'
  | 'code_rejected'
  | 'provider_unavailable'
  | 'not_owner';

/** A failure with a code for the user-facing page; the message never echoes input. */
export class LinkError extends Error {
  readonly code: LinkErrorCode;
  readonly status: number;
  constructor(code: LinkErrorCode, status: number, message: string) {
    super(message);
    this.code = code;
    this.status = status;
    this.name = 'LinkError';
  }
}

export interface LinkDeps {
  clock: Clock;
  states: AuthStateStore;
  accounts: AccountStore;
  tokens: TokenStore;
  budget: CallBudget;
  log: Log;
  oauth: OAuthConfig;
  clientSecret: () => Promise<string>;
  api: (token: string, userId: string) => HealthGraphClient;
}

export function hashSecret(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Owner-only: mint a one-time link allowing one (re)authorisation. */
export async function mintInvite(deps: Pick<LinkDeps, 'states' | 'clock'>): Promise<string> {
  const invite = newSecret();
  await deps.states.createInvite(hashSecret(invite), deps.clock.now() + INVITE_TTL_MS);
  return invite;
}

export async function beginLink(
  deps: Pick<LinkDeps, 'states' | 'accounts' | 'clock' | 'oauth'>,
  invite?: string | undefined,
): Promise<{ url: string; cookie: string; state: string }> {
  let purpose: 'first-link' | 'invite';
  if (invite !== undefined) {
    if (
      !/^[A-Za-z0-9_-]{20,100}$/.test(invite) ||
      !(await deps.states.consumeInvite(hashSecret(invite), deps.clock.now()))
    ) {
      throw new LinkError(
        'not_allowed',
        403,
        'This link is not valid (it may have been used or expired).',
      );
    }
    purpose = 'invite';
  } else {
    if ((await deps.accounts.list()).length > 0) {
      throw new LinkError(
        'not_allowed',
        403,
        'An account is already linked. Ask the owner for a one-time link.',
      );
    }
    purpose = 'first-link';
  }
  const state = newSecret();
  const cookie = newSecret();
  await deps.states.create({
    stateHash: hashSecret(state),
    cookieHash: hashSecret(cookie),
    expiresAt: deps.clock.now() + STATE_TTL_MS,
    purpose,
  });
  return { url: authorizeUrl(deps.oauth, state), cookie, state };
}

const CODE_RE = /^[A-Za-z0-9._~+/=-]{1,512}$/;
const STATE_RE = /^[A-Za-z0-9_-]{20,100}$/;

export interface CallbackParams {
  /** Each query parameter with all its values (repeated parameters are rejected). */
  query: Record<string, string[]>;
  cookie: string | undefined;
}

export async function completeLink(
  deps: LinkDeps,
  p: CallbackParams,
): Promise<{ userId: string; relinked: boolean }> {
  const one = (name: string): string | undefined => {
    const v = p.query[name];
    if (v === undefined || v.length === 0) return undefined;
    if (v.length > 1)
      throw new LinkError('bad_request', 400, 'The sign-in response was malformed.');
    return v[0];
  };
  const state = one('state');
  if (!state || !STATE_RE.test(state))
    throw new LinkError('state_invalid', 400, 'The sign-in response was not expected.');
  // Consume first: whatever happens next, this state can never be used again.
  const pending = await deps.states.consume(hashSecret(state));
  if (!pending)
    throw new LinkError(
      'state_invalid',
      400,
      'The sign-in response was not expected or was already used.',
    );
  if (pending.expiresAt <= deps.clock.now())
    throw new LinkError('state_expired', 400, 'The sign-in took too long. Start again.');
  if (!p.cookie || !sameHash(hashSecret(p.cookie), pending.cookieHash)) {
    throw new LinkError('cookie_mismatch', 403, 'The sign-in was started in another browser.');
  }
  if (one('error') !== undefined) throw new LinkError('denied', 400, 'Access was not granted.');
  const code = one('code');
  if (!code || !CODE_RE.test(code))
    throw new LinkError('bad_request', 400, 'The sign-in response had no usable code.');

  let token: string;
  const tokenAt = deps.clock.now();
  try {
    token = await exchangeCode(deps.oauth, await deps.clientSecret(), code);
  } catch (e) {
    deps.log.warn('token exchange failed', { error: describeError(e) });
    const retryable = (e as { retryable?: boolean }).retryable === true;
    throw retryable
      ? new LinkError(
          'provider_unavailable',
          502,
          'Runkeeper could not be reached. Start again in a moment.',
        )
      : new LinkError('code_rejected', 400, 'Runkeeper refused the sign-in. Start again.');
  }
  let userId: string;
  let resources: Record<string, string>;
  try {
    // The user is unknown until /user answers: spend from a provisional key, then record.
    const user = await deps.api(token, 'pending').getUser();
    userId = assertUserId(user.userId);
    resources = user.resources;
  } catch (e) {
    deps.log.warn('could not resolve the user after the token exchange', {
      error: describeError(e),
    });
    throw new LinkError(
      'provider_unavailable',
      502,
      'Runkeeper did not return your profile. Start again.',
    );
  }
  // The token call and /user spend from this user's budget too.
  await deps.budget.record(budgetKey(userId), tokenAt);
  await deps.budget.record(budgetKey(userId), deps.clock.now());

  const existing = await deps.accounts.get(userId);
  if (pending.purpose === 'first-link') {
    const others = (await deps.accounts.list()).filter((a) => a.userId !== userId);
    if (others.length > 0)
      throw new LinkError('not_owner', 403, 'Another account is already linked.');
  }
  await deps.tokens.put(userId, token);
  const now = deps.clock.now();
  const account: Account = existing
    ? { ...existing, status: 'ACTIVE', revokedAt: undefined, resources, discoveredAt: now }
    : {
        userId,
        status: 'ACTIVE',
        linkedAt: now,
        resources,
        discoveredAt: now,
        cursors: {},
        version: 0,
      };
  if (!(await deps.accounts.save(account))) {
    const fresh = await deps.accounts.get(userId);
    if (
      !fresh ||
      !(await deps.accounts.save({ ...fresh, status: 'ACTIVE', revokedAt: undefined, resources }))
    ) {
      throw new LinkError('provider_unavailable', 503, 'Could not save the account. Start again.');
    }
  }
  return { userId, relinked: existing !== undefined };
}
