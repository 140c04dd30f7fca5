/**
 * The HTTP handlers (authorize, callback, deauthorize) with in-memory stores and a stubbed
 * Runkeeper: the bad-input cases B1–B7 and B12 of the reliability catalogue, plus X5 (no
 * code, state, cookie or token in the logs).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  MemoryAccountStore,
  MemoryAuthStateStore,
  MemoryTokenStore,
} from '../../functions/adapters/memory/index.ts';
import { memoryBudget } from '../../functions/core/budget.ts';
import { ManualClock } from '../../functions/core/clock.ts';
import { mintInvite } from '../../functions/core/sync/link.ts';
import { createAuthorizeHandler } from '../../functions/shared/app/authorize.ts';
import { createCallbackHandler } from '../../functions/shared/app/callback.ts';
import { createDeauthorizeHandler } from '../../functions/shared/app/deauthorize.ts';
import { parseEnv } from '../../functions/shared/env.ts';
import type { HttpEvent, HttpResult } from '../../functions/shared/http.ts';
import type { AwsClients, Platform } from '../../functions/shared/platform.ts';

const AUTH = 'https://runkeeper.example';
const API = 'https://api.runkeeper.example';
const REDIRECT = 'https://abc123.execute-api.eu-west-1.amazonaws.com/callback';
const TOKEN = 'tok_0123456789abcdef0123456789abcdef';
const SECRET = 'client-secret-value-xyz';
const CTX = {
  functionName: 'test',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
};

interface Stub {
  tokenRequests: URLSearchParams[];
  tokenReply: () => Response;
  /** The Runkeeper user whose consent the next code carries. */
  userId: number;
}

function stubFetch(stub: Stub): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url === `${AUTH}/apps/token`) {
      stub.tokenRequests.push(new URLSearchParams(String(init?.body ?? '')));
      return stub.tokenReply();
    }
    if (url === `${API}/user`) {
      return new Response(
        JSON.stringify({
          userID: stub.userId,
          fitness_activities: '/fitnessActivities',
          change_log: '/changeLog',
        }),
        { status: 200, headers: { 'content-type': 'application/vnd.com.runkeeper.User+json' } },
      );
    }
    return new Response('{"reason":"Not Found"}', { status: 404 });
  }) as typeof fetch;
}

function world() {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const states = new MemoryAuthStateStore();
  const accounts = new MemoryAccountStore();
  const tokens = new MemoryTokenStore();
  const invoked: string[] = [];
  const stub: Stub = {
    userId: 123,
    tokenRequests: [],
    tokenReply: () =>
      new Response(JSON.stringify({ access_token: TOKEN, token_type: 'Bearer' }), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      }),
  };
  const p: Platform = {
    clients: {} as AwsClients,
    clock,
    logger: new Logger({ serviceName: 'rk-sync-test' }),
    metrics: new Metrics({ namespace: 'RkSyncTest', serviceName: 'rk-sync-test' }),
    fetch: stubFetch(stub),
    invokeScheduler: async (userId) => {
      invoked.push(userId);
    },
  };
  const common = { TABLE_NAME: 't', CLIENT_ID: 'cid', AUTH_BASE_URL: AUTH, REDIRECT_URI: REDIRECT };
  const authorize = createAuthorizeHandler(parseEnv('authorize', common), p, { states });
  const callback = createCallbackHandler(
    parseEnv('callback', {
      ...common,
      RATE_LIMIT_CALLS: '100',
      RATE_LIMIT_WINDOW_SECONDS: '900',
      TOKEN_PARAM_PREFIX: '/rk-sync/t/tokens/',
      CLIENT_SECRET_PARAM: '/rk-sync/client-secret',
      TOKEN_KMS_KEY_ID: 'alias/test',
      API_BASE_URL: API,
      SCHEDULER_FUNCTION_NAME: 'scheduler',
    }),
    p,
    { states, accounts, tokens, budget: memoryBudget(), clientSecret: async () => SECRET },
  );
  const deauthorize = createDeauthorizeHandler(
    parseEnv('deauthorize', { TABLE_NAME: 't', TOKEN_PARAM_PREFIX: '/rk-sync/t/tokens/' }),
    p,
    { accounts, tokens },
  );
  /** The owner's invite (rk-sync invite), bound to the recorded owner like the CLI does. */
  const invite = async () => mintInvite({ states, clock }, await states.owner());
  /** GET /authorize; without a query, with a fresh owner invite. */
  const begin = async (q?: string) => {
    const query = q ?? `invite=${await invite()}`;
    const r = (await authorize(
      { rawQueryString: query, requestContext: { domainName: 'abc123.example' } },
      CTX,
    )) as HttpResult;
    const location = r.headers.location ?? '';
    const state = location ? (new URL(location).searchParams.get('state') ?? '') : '';
    const cookie = /^rk_link=([^;]*);/.exec(r.cookies?.[0] ?? '')?.[1] ?? '';
    return { r, state, cookie };
  };
  const cb = (ev: HttpEvent) => callback(ev, CTX) as Promise<HttpResult>;
  return {
    p,
    clock,
    states,
    accounts,
    tokens,
    invoked,
    stub,
    authorize,
    callback: cb,
    deauthorize,
    begin,
    invite,
  };
}

let logs: string[] = [];
beforeEach(() => {
  logs = [];
  for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      logs.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    });
  }
});
afterEach(() => {
  vi.restoreAllMocks();
});

function expectSafePage(r: HttpResult) {
  expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.headers['referrer-policy']).toBe('no-referrer');
  expect(r.headers['content-security-policy']).toContain("default-src 'none'");
  expect(r.body).not.toMatch(/<script|https?:\/\/(?!www\.w3)/i);
}

describe('authorize', () => {
  it('redirects to Runkeeper with a cookie-bound state (first link)', async () => {
    const w = world();
    const { r, state, cookie } = await w.begin();
    expect(r.statusCode).toBe(302);
    const loc = new URL(r.headers.location!);
    expect(`${loc.origin}${loc.pathname}`).toBe(`${AUTH}/apps/authorize`);
    expect(loc.searchParams.get('redirect_uri')).toBe(REDIRECT);
    expect(loc.searchParams.get('client_id')).toBe('cid');
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.cookies?.[0]).toBe(
      `rk_link=${cookie}; HttpOnly; Secure; SameSite=Lax; Path=/callback; Max-Age=600`,
    );
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
    // Only hashes are stored.
    const stored = [...w.states.states.values()][0];
    expect(stored?.stateHash).not.toBe(state);
    expect(JSON.stringify([...w.states.states])).not.toContain(cookie);
  });

  it('X9: no link without an owner invite, not even the first one (first-link squatting)', async () => {
    const w = world();
    for (const q of ['', 'invite=', `invite=${'A'.repeat(43)}`]) {
      const r = (await w.begin(q)).r;
      expect(r.statusCode).toBe(403);
      expectSafePage(r);
    }
    expect(w.states.states.size).toBe(0);
    expect(await w.accounts.list()).toEqual([]);
    const invite = await w.invite();
    expect((await w.begin(`invite=${invite}&invite=${invite}`)).r.statusCode).toBe(400);
  });

  it('X10: link previews do not spend an invite; the callback spends it once', async () => {
    const w = world();
    const invite = await w.invite();
    // A mail scanner and a chat preview GET the link first: it still works for the owner.
    const preview1 = await w.begin(`invite=${invite}`);
    const preview2 = await w.begin(`invite=${invite}`);
    expect([preview1.r.statusCode, preview2.r.statusCode]).toEqual([302, 302]);
    const owner = await w.begin(`invite=${invite}`);
    const done = await w.callback({
      rawQueryString: `code=c1&state=${owner.state}`,
      cookies: [`rk_link=${owner.cookie}`],
    });
    expect(done.headers.location).toBe('/callback?result=linked');
    expect(w.invoked).toEqual(['123']);
    // Spent: a preview's state cannot link with it any more, and a new GET is refused.
    const late = await w.callback({
      rawQueryString: `code=c2&state=${preview1.state}`,
      cookies: [`rk_link=${preview1.cookie}`],
    });
    expect(late.headers.location).toBe('/callback?result=invalid');
    expect((await w.begin(`invite=${invite}`)).r.statusCode).toBe(403);
    expect(w.states.invites.size).toBe(0);
  });

  it("X10: an invite bound to the owner refuses another Runkeeper account and stays the owner's", async () => {
    const w = world();
    const first = await w.begin();
    await w.callback({
      rawQueryString: `code=c1&state=${first.state}`,
      cookies: [`rk_link=${first.cookie}`],
    });
    expect(await w.states.owner()).toBe('123');
    const invite = await w.invite();
    expect([...w.states.invites.values()]).toEqual([expect.objectContaining({ userId: '123' })]);
    // A stranger who got hold of the link signs in with their own Runkeeper account.
    w.stub.userId = 999;
    const s = await w.begin(`invite=${invite}`);
    const refused = await w.callback({
      rawQueryString: `code=c2&state=${s.state}`,
      cookies: [`rk_link=${s.cookie}`],
    });
    expect(refused.headers.location).toBe('/callback?result=not_owner');
    expect(w.tokens.tokens.has('999')).toBe(false);
    expect((await w.accounts.list()).map((a) => a.userId)).toEqual(['123']);
    // The link was not spent by the stranger: the owner re-links with it.
    w.stub.userId = 123;
    const o = await w.begin(`invite=${invite}`);
    const relinked = await w.callback({
      rawQueryString: `code=c3&state=${o.state}`,
      cookies: [`rk_link=${o.cookie}`],
    });
    expect(relinked.headers.location).toBe('/callback?result=linked');
    expect(w.states.invites.size).toBe(0);
  });

  it('X9: an unbound invite cannot add a second account: the owner item decides', async () => {
    const w = world();
    const a = await w.begin();
    await w.callback({
      rawQueryString: `code=c1&state=${a.state}`,
      cookies: [`rk_link=${a.cookie}`],
    });
    const unbound = await mintInvite({ states: w.states, clock: w.clock });
    w.stub.userId = 999;
    const s = await w.begin(`invite=${unbound}`);
    const r = await w.callback({
      rawQueryString: `code=c2&state=${s.state}`,
      cookies: [`rk_link=${s.cookie}`],
    });
    expect(r.headers.location).toBe('/callback?result=not_owner');
    expect((await w.accounts.list()).map((x) => x.userId)).toEqual(['123']);
    expect(w.tokens.tokens.has('999')).toBe(false);
  });
});

/** B7: the callback answers 303 to `/callback?result=<word>` (cookie cleared there), and the
 *  page for that word is rendered by a request carrying only `result`. */
async function follow(
  w: ReturnType<typeof world>,
  r: HttpResult,
  result: string,
): Promise<HttpResult> {
  expect(r.statusCode).toBe(303);
  expect(r.headers.location).toBe(`/callback?result=${result}`);
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.headers['referrer-policy']).toBe('no-referrer');
  expect(r.cookies).toEqual([
    'rk_link=; HttpOnly; Secure; SameSite=Lax; Path=/callback; Max-Age=0',
  ]);
  expect(r.body).toBe('');
  const page = await w.callback({ rawQueryString: r.headers.location!.split('?')[1] });
  expectSafePage(page);
  expect(page.cookies).toBeUndefined();
  return page;
}

describe('callback (B1–B7)', () => {
  it('links the account, stores the token, starts the first sync, clears the cookie', async () => {
    const w = world();
    const { state, cookie } = await w.begin();
    const seeOther = await w.callback({
      rawQueryString: `code=abc123&state=${state}&redirect_uri=https%3A%2F%2Fevil.example%2F&next=%2F%2Fevil`,
      cookies: [`rk_link=${cookie}`],
    });
    const r = await follow(w, seeOther, 'linked');
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('Runkeeper account linked');
    expect(JSON.stringify(seeOther)).not.toContain('abc123');
    expect(JSON.stringify(seeOther)).not.toContain('evil');
    expect(r.body).not.toContain('abc123');
    expect(r.body).not.toContain(state);
    expect(r.body).not.toContain('evil');
    expect(await w.tokens.get('123')).toBe(TOKEN);
    expect((await w.accounts.get('123'))?.status).toBe('ACTIVE');
    expect(w.invoked).toEqual(['123']);
    // B4: the token request carries the configured redirect URI, not the injected one.
    expect(w.stub.tokenRequests).toHaveLength(1);
    expect(w.stub.tokenRequests[0]?.get('redirect_uri')).toBe(REDIRECT);
    expect(w.stub.tokenRequests[0]?.get('code')).toBe('abc123');
  });

  const RESULT_FOR: Record<number, string> = { 400: 'invalid', 403: 'other_browser' };
  const refused = async (
    w: ReturnType<typeof world>,
    ev: HttpEvent,
    status: number,
    result = RESULT_FOR[status]!,
  ): Promise<HttpResult> => {
    const r = await follow(w, await w.callback(ev), result);
    expect(r.statusCode).toBe(status);
    expect(w.accounts.accounts.size).toBe(0);
    expect(w.tokens.tokens.size).toBe(0);
    expect(w.invoked).toEqual([]);
    return r;
  };

  it('B1: state missing, empty, unknown, expired, replayed or from another browser', async () => {
    const w = world();
    const { state, cookie } = await w.begin();
    const c = [`rk_link=${cookie}`];
    await refused(w, { rawQueryString: 'code=abc', cookies: c }, 400);
    await refused(w, { rawQueryString: 'code=abc&state=', cookies: c }, 400);
    await refused(w, { rawQueryString: `code=abc&state=${'x'.repeat(43)}`, cookies: c }, 400);
    await refused(w, { rawQueryString: `code=abc&state=${state}&state=${state}`, cookies: c }, 400);
    // Cookie from another browser (or none): refused, and the state is burnt.
    const other = await w.begin();
    await refused(w, { rawQueryString: `code=abc&state=${other.state}`, cookies: c }, 403);
    await refused(
      w,
      { rawQueryString: `code=abc&state=${other.state}`, cookies: [`rk_link=${other.cookie}`] },
      400,
    );
    const third = await w.begin();
    await refused(w, { rawQueryString: `code=abc&state=${third.state}` }, 403);
    // Expired.
    const late = await w.begin();
    w.clock.advance(10 * 60_000 + 1);
    await refused(
      w,
      { rawQueryString: `code=abc&state=${late.state}`, cookies: [`rk_link=${late.cookie}`] },
      400,
      'expired',
    );
    expect(w.stub.tokenRequests).toHaveLength(0);
    // Replay after a success.
    const ok = await w.begin();
    const ev = { rawQueryString: `code=abc&state=${ok.state}`, cookies: [`rk_link=${ok.cookie}`] };
    expect((await w.callback(ev)).headers.location).toBe('/callback?result=linked');
    const replay = await w.callback(ev);
    expect(replay.headers.location).toBe('/callback?result=invalid');
    expect(w.stub.tokenRequests).toHaveLength(1);
  });

  it('B2: code missing, repeated, 8 KB long, with NUL or non-ASCII: no token request', async () => {
    for (const q of [
      '',
      'code=a&code=b&',
      `code=${'a'.repeat(8192)}&`,
      'code=ab%00cd&',
      'code=%C3%A9t%C3%A9&',
    ]) {
      const w = world();
      const { state, cookie } = await w.begin();
      await refused(
        w,
        { rawQueryString: `${q}state=${state}`, cookies: [`rk_link=${cookie}`] },
        400,
      );
      expect(w.stub.tokenRequests).toHaveLength(0);
    }
  });

  it('B3: error=access_denied with markup is answered with an escaped generic page', async () => {
    const w = world();
    const { state, cookie } = await w.begin();
    const r = await refused(
      w,
      {
        rawQueryString: `error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=${state}`,
        cookies: [`rk_link=${cookie}`],
      },
      400,
      'denied',
    );
    expect(r.body).not.toContain('alert');
    expect(r.body).not.toContain('access_denied');
    expect(w.stub.tokenRequests).toHaveLength(0);
  });

  it('B5: a token endpoint answering HTML or 5xx fails cleanly with nothing stored', async () => {
    for (const reply of [
      () =>
        new Response('<html>maintenance</html>', {
          status: 200,
          headers: { 'content-type': 'text/html' },
        }),
      () => new Response('{"error":"oops"}', { status: 503 }),
      () => new Response('{"token_type":"Bearer"}', { status: 200 }),
      () => new Response('{"error":"invalid_grant"}', { status: 400 }),
    ]) {
      const w = world();
      w.stub.tokenReply = reply;
      const { state, cookie } = await w.begin();
      const seeOther = await w.callback({
        rawQueryString: `code=abc&state=${state}`,
        cookies: [`rk_link=${cookie}`],
      });
      const word = seeOther.headers.location?.split('=')[1] ?? '';
      expect(['rejected', 'unavailable']).toContain(word);
      const r = await follow(w, seeOther, word);
      expect([400, 502]).toContain(r.statusCode);
      expect(w.tokens.tokens.size).toBe(0);
      expect(w.accounts.accounts.size).toBe(0);
    }
  });

  it('B7: the result page takes one allow-listed word and never echoes input', async () => {
    const w = world();
    for (const q of [
      'result=%3Cscript%3Ealert(1)%3C%2Fscript%3E',
      'result=linked&result=denied',
      'result=linked&code=abc',
      'result=__proto__',
      'result=',
    ]) {
      const r = await w.callback({ rawQueryString: q });
      expect(r.statusCode, q).toBe(400);
      expectSafePage(r);
      expect(r.body).not.toMatch(/alert|abc|proto|Runkeeper account linked/);
    }
    const ok = await w.callback({ rawQueryString: 'result=linked' });
    expect(ok.statusCode).toBe(200);
    expect(ok.cookies).toBeUndefined();
    // Rendering a result page touches no state and starts nothing.
    expect(w.stub.tokenRequests).toHaveLength(0);
    expect(w.invoked).toEqual([]);
  });

  it('X5: no code, state, cookie, token or secret reaches the logs', async () => {
    const w = world();
    const { state, cookie } = await w.begin();
    await w.callback({
      rawQueryString: `code=secretcode42&state=${state}`,
      cookies: [`rk_link=${cookie}`],
    });
    const bad = await w.begin('invite=zzzzzzzzzzzzzzzzzzzzzzzzz');
    expect(bad.r.statusCode).toBe(403);
    const all = logs.join('\n');
    expect(all.length).toBeGreaterThan(0);
    for (const s of ['secretcode42', state, cookie, TOKEN, SECRET, 'Bearer ']) {
      expect(all).not.toContain(s);
    }
  });
});

describe('deauthorize (B12)', () => {
  async function linked() {
    const w = world();
    const { state, cookie } = await w.begin();
    await w.callback({ rawQueryString: `code=abc&state=${state}`, cookies: [`rk_link=${cookie}`] });
    expect(await w.tokens.get('123')).toBe(TOKEN);
    return w;
  }
  const post = (w: ReturnType<typeof world>, body: string, type = 'application/json') =>
    w.deauthorize({ body, headers: { 'content-type': type } }, CTX) as Promise<HttpResult>;

  it('bad JSON, huge bodies and unknown tokens: 200 and no side effects', async () => {
    const w = await linked();
    for (const body of [
      'not json',
      '',
      '[]',
      '{"access_token": 5}',
      JSON.stringify({ access_token: 'x'.repeat(5000) }),
      JSON.stringify({ access_token: 'unknown-token' }),
      JSON.stringify({ access_token: TOKEN, pad: 'x'.repeat(4096) }),
    ]) {
      const r = await post(w, body);
      expect(r).toEqual({ statusCode: 200, headers: { 'cache-control': 'no-store' }, body: '' });
    }
    expect((await w.accounts.get('123'))?.status).toBe('ACTIVE');
    expect(await w.tokens.get('123')).toBe(TOKEN);
  });

  it('the stored token revokes the account and deletes the token; same answer', async () => {
    const w = await linked();
    const metric = vi.spyOn(w.p.metrics, 'addMetric');
    const r = await post(w, JSON.stringify({ access_token: TOKEN }));
    expect(r).toEqual({ statusCode: 200, headers: { 'cache-control': 'no-store' }, body: '' });
    expect((await w.accounts.get('123'))?.status).toBe('REVOKED');
    expect(await w.tokens.get('123')).toBeUndefined();
    expect(metric).toHaveBeenCalledWith('AccountRevoked', 'Count', 1);
    expect(logs.join('\n')).not.toContain(TOKEN);
    // A form-encoded repeat is harmless.
    const again = await post(w, `access_token=${TOKEN}`, 'application/x-www-form-urlencoded');
    expect(again.statusCode).toBe(200);
  });
});

describe('environment', () => {
  it('fails fast naming the variable, never its value', () => {
    expect(() => parseEnv('fetcher', { TABLE_NAME: 't' })).toThrow(/BUCKET_NAME/);
    expect(() =>
      parseEnv('deauthorize', { TABLE_NAME: 't', TOKEN_PARAM_PREFIX: '/p/', ON_REVOKE: 'delete' }),
    ).toThrow(/BUCKET_NAME is required/);
    const e = parseEnv('scheduler', {
      TABLE_NAME: 't',
      RATE_LIMIT_CALLS: '40',
      RATE_LIMIT_WINDOW_SECONDS: '1.5',
      TOKEN_PARAM_PREFIX: '/p/',
      QUEUE_URL: 'http://127.0.0.1:1/q',
      API_BASE_URL: 'http://127.0.0.1:2/api/',
      SCHEDULE_MINUTES: '15',
    });
    expect(e.RATE_LIMIT_WINDOW_SECONDS).toBe(1.5);
    expect(e.API_BASE_URL).toBe('http://127.0.0.1:2/api');
  });

  it('the callback takes TOKEN_KMS_KEY_ID when set and runs without it (encryption=aws-managed)', () => {
    const callbackEnv = {
      TABLE_NAME: 't',
      CLIENT_ID: 'cid',
      AUTH_BASE_URL: AUTH,
      RATE_LIMIT_CALLS: '100',
      RATE_LIMIT_WINDOW_SECONDS: '900',
      TOKEN_PARAM_PREFIX: '/rk-sync/t/tokens/',
      CLIENT_SECRET_PARAM: '/rk-sync/client-secret',
      API_BASE_URL: API,
      SCHEDULER_FUNCTION_NAME: 'scheduler',
    };
    expect(parseEnv('callback', callbackEnv).TOKEN_KMS_KEY_ID).toBeUndefined();
    expect(
      parseEnv('callback', { ...callbackEnv, TOKEN_KMS_KEY_ID: 'alias/test' }).TOKEN_KMS_KEY_ID,
    ).toBe('alias/test');
    // Set but blank is a broken deployment, not the aws-managed mode.
    expect(() => parseEnv('callback', { ...callbackEnv, TOKEN_KMS_KEY_ID: ' ' })).toThrow(
      /TOKEN_KMS_KEY_ID/,
    );
  });
});
