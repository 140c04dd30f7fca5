/**
 * Linking an account (the OAuth authorization-code flow, server side).
 *
 * `beginLink` mints an unguessable, single-use, expiring `state` bound to a browser cookie
 * (only their hashes are stored). Every link, the first one included, needs a one-time
 * invite minted by the owner with their AWS credentials (`rk-sync invite`); `beginLink` only
 * checks it, so a link preview or a mail scanner that GETs the URL does not spend it.
 * `completeLink` consumes the state with a conditional delete (a replay fails), checks the
 * cookie, exchanges the code, resolves the user via /user, refuses a user the invite is not
 * bound to, claims the fixed owner item (one conditional write: of two concurrent first
 * links exactly one wins), spends the invite, stores the token and records the account.
 * A stranger who finds the URL can neither link their account nor replace the owner's token.
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

/** Owner-only: mint a one-time link allowing one (re)authorisation, bound to `userId` if given. */
export async function mintInvite(
  deps: Pick<LinkDeps, 'states' | 'clock'>,
  userId?: string,
): Promise<string> {
  const invite = newSecret();
  await deps.states.createInvite(hashSecret(invite), deps.clock.now() + INVITE_TTL_MS, userId);
  return invite;
}

const INVITE_RE = /^[A-Za-z0-9_-]{20,100}$/;

export async function beginLink(
  deps: Pick<LinkDeps, 'states' | 'clock' | 'oauth'>,
  invite?: string | undefined,
): Promise<{ url: string; cookie: string; state: string }> {
  if (invite === undefined) {
    throw new LinkError(
      'not_allowed',
      403,
      'Linking needs a one-time link from the owner of this backup (rk-sync invite).',
    );
  }
  // Only checked here: the invite is spent at the callback, by the account it is bound to.
  if (
    !INVITE_RE.test(invite) ||
    !(await deps.states.peekInvite(hashSecret(invite), deps.clock.now()))
  ) {
    throw new LinkError(
      'not_allowed',
      403,
      'This link is not valid (it may have been used or expired).',
    );
  }
  const state = newSecret();
  const cookie = newSecret();
  await deps.states.create({
    stateHash: hashSecret(state),
    cookieHash: hashSecret(cookie),
    expiresAt: deps.clock.now() + STATE_TTL_MS,
    purpose: 'invite',
    inviteHash: hashSecret(invite),
  });
  return { url: authorizeUrl(deps.oauth, state), cookie, state };
}

/** The owner check of a callback: the invite's binding, the owner item, then the spend. */
async function admit(
  deps: Pick<LinkDeps, 'states' | 'clock'>,
  inviteHash: string | undefined,
  userId: string,
): Promise<void> {
  const used = new LinkError(
    'state_invalid',
    400,
    'This link was already used or has expired. Ask the owner for a new one.',
  );
  // A state from before invites were required for every link carries none: refused.
  if (inviteHash === undefined) throw used;
  const invite = await deps.states.peekInvite(inviteHash, deps.clock.now());
  if (!invite) throw used;
  // Not spent on a mismatch: the owner can still use the link a stranger tried.
  if (invite.userId !== undefined && invite.userId !== userId) {
    throw new LinkError('not_owner', 403, 'This link is for another Runkeeper account.');
  }
  if (!(await deps.states.claimOwner(userId, deps.clock.now()))) {
    throw new LinkError('not_owner', 403, 'Another account owns this backup.');
  }
  if (!(await deps.states.consumeInvite(inviteHash, deps.clock.now()))) throw used;
}

const CODE_RE = /^[A-Za-z0-9._~+/=-]{1,512}$/;
const STATE_RE = INVITE_RE;

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

  await admit(deps, pending.inviteHash, userId);
  const existing = await deps.accounts.get(userId);
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

/**
 * Owner-only (the CLI with the owner's credentials): remove a linked account. Its token is
 * deleted, the account record goes (so no run syncs it again) and, if it held the owner item,
 * that is freed so the next invite is a first link again. Archived data is kept.
 */
export async function unlinkAccount(
  deps: {
    accounts: AccountStore;
    tokens: TokenStore;
    states?: Pick<AuthStateStore, 'releaseOwner'> | undefined;
  },
  userId: string,
): Promise<{ wasLinked: boolean }> {
  assertUserId(userId);
  const wasLinked = (await deps.accounts.get(userId)) !== undefined;
  await deps.tokens.delete(userId);
  await deps.accounts.delete(userId);
  await deps.states?.releaseOwner(userId);
  return { wasLinked };
}
