/**
 * The Health Graph client against the simulator over loopback: every fault mode maps to
 * the right error, recoverable ones recover, and the token never leaves the API host.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { budgetKey, memoryBudget, type SlidingWindowBudget } from '../../functions/core/budget.ts';
import { ManualClock } from '../../functions/core/clock.ts';
import {
  BudgetExhaustedError,
  InvalidPayloadError,
  NotFoundError,
  OAuthError,
  RateLimitedError,
  RevokedError,
  TransientError,
  UnauthorizedError,
  UnsafeUriError,
} from '../../functions/core/errors.ts';
import {
  HealthGraphClient,
  LAMBDA_RETRY,
  type RetryPolicy,
} from '../../functions/core/healthgraph/client.ts';
import { authorizeUrl, deauthorize, exchangeCode } from '../../functions/core/healthgraph/oauth.ts';
import { type Simulator, startSimulator } from '../../simulator/server.ts';

let sim: Simulator;
let clock: ManualClock;
let budget: SlidingWindowBudget;
let userId: string;
let token: string;
let ids: string[];

beforeAll(async () => {
  clock = new ManualClock(Date.UTC(2026, 10, 1, 12));
  sim = await startSimulator({
    activities: 40,
    seed: 3,
    clock,
    rateLimit: { calls: 100, windowMs: 900_000 },
  });
  userId = sim.users[0]!.userId;
  token = sim.users[0]!.accessToken;
  ids = sim.activityIds(userId);
});
afterAll(async () => sim.close());
beforeEach(() => {
  sim.faults.clear();
  budget = memoryBudget();
  clock.advance(3_600_000); // a fresh server-side window for every test
});

function client(retry: RetryPolicy = LAMBDA_RETRY, timeoutMs = 2_000, tok = token) {
  return new HealthGraphClient(
    { apiBaseUrl: sim.apiBaseUrl, timeoutMs, maxBodyBytes: 2 * 1024 * 1024 },
    { token: tok, budget, budgetKey: budgetKey(userId), clock, retry },
  );
}
const ref = () => ({ feed: 'fitnessActivities' as const, id: ids[0]! });

describe('HealthGraphClient', () => {
  it('discovers resources from /user and lists a feed by following next verbatim', async () => {
    const c = client();
    const user = await c.getUser();
    expect(user.userId).toBe(userId);
    expect(user.resources.fitness_activities).toBe('/fitnessActivities');
    expect(user.resources.change_log).toBe('/changeLog');
    const seen: string[] = [];
    let size = 0;
    for await (const page of c.pages(
      'fitnessActivities',
      '/fitnessActivities',
      c.firstPage('/fitnessActivities', { pageSize: 7 }),
    )) {
      size = page.size ?? 0;
      seen.push(...page.items.map((i) => i.ref!.id));
    }
    expect(seen.length).toBe(size);
    expect(new Set(seen).size).toBe(40);
    expect(c.calls).toBe(1 + Math.ceil(40 / 7));
    const pageCalls = sim.callLog.filter((l) => l.path.startsWith('/fitnessActivities?page='));
    expect(pageCalls.at(-1)?.path).toMatch(
      /noEarlierThan=.*noLaterThan=.*modifiedNoEarlierThan=.*modifiedNoLaterThan=/,
    );
  });

  it('fetches full and summary documents with vendor media types', async () => {
    const c = client();
    const full = await c.getItem(ref());
    expect(full.json.uri).toBe(`/fitnessActivities/${ids[0]}`);
    expect(Array.isArray(full.json.path)).toBe(true);
    const summary = await c.getItem(ref(), { summary: true });
    expect(summary.json.path).toBeUndefined();
    expect(full.text).toBe(JSON.stringify(sim.document(userId, 'fitnessActivities', ids[0]!)));
  });

  it('every call spends budget; without budget it throws before sending anything', async () => {
    const tiny = memoryBudget({ limit: 3, margin: 0 });
    const c = new HealthGraphClient(
      { apiBaseUrl: sim.apiBaseUrl },
      { token, budget: tiny, budgetKey: 'k', clock },
    );
    await c.getUser();
    await c.getItem(ref());
    await c.getItem(ref());
    const before = sim.callLog.length;
    await expect(c.getItem(ref())).rejects.toBeInstanceOf(BudgetExhaustedError);
    expect(sim.callLog.length).toBe(before);
  });

  it.each([500, 502, 503])(
    '%i → TransientError; retried with backoff and recovered, each retry spending budget',
    async (status) => {
      sim.faults.push({ match: /^\/fitnessActivities\/\d+$/, kind: 'status', status, times: 2 });
      await expect(client().getItem(ref())).rejects.toBeInstanceOf(TransientError);
      const c = client({
        attempts: 4,
        baseMs: 1000,
        capMs: 8000,
        waitForBudget: false,
        random: () => 0.5,
      });
      const t = clock.now();
      const doc = await c.getItem(ref());
      expect(doc.json.uri).toBeDefined();
      expect(c.calls).toBe(2);
      expect((await budget.inspect(budgetKey(userId), clock.now())).used).toBe(3);
      expect(clock.now() - t).toBe(500); // full jitter: random 0.5 × min(cap, 1000 × 2^0)
    },
  );

  it('429 with Retry-After seconds, HTTP-date, none, and the limit in the reason text', async () => {
    sim.faults.push({ kind: '429', match: /^\/user$/, retryAfter: 120 });
    const e1 = await client()
      .getUser()
      .catch((e) => e);
    expect(e1).toBeInstanceOf(RateLimitedError);
    expect((e1 as RateLimitedError).waitUntil).toBe(clock.now() + 120_000);
    // The budget now refuses every call for that user until then.
    expect((await budget.tryAcquire(budgetKey(userId), clock.now() + 60_000)).granted).toBe(false);

    budget = memoryBudget();
    const date = new Date(clock.now() + 300_000).toUTCString();
    sim.faults.push({ kind: '429', match: /^\/user$/, retryAfter: date });
    const e2 = (await client()
      .getUser()
      .catch((e) => e)) as RateLimitedError;
    expect(Math.abs(e2.waitUntil - (clock.now() + 300_000))).toBeLessThan(1000);

    budget = memoryBudget();
    sim.faults.push({
      kind: '429',
      match: /^\/user$/,
      reason: 'Rate-limit exceeded. rate limit is 60 calls per 15 minutes for this user',
    });
    const e3 = (await client()
      .getUser()
      .catch((e) => e)) as RateLimitedError;
    expect(e3.waitUntil).toBe(clock.now() + 900_000);
    expect(e3.revealedLimit).toEqual({ calls: 60, windowMs: 900_000 });
    expect((await budget.inspect(budgetKey(userId), clock.now())).limit).toBe(60);

    budget = memoryBudget();
    sim.faults.push({ kind: '429', match: /^\/user$/, retryAfter: 'garbage' });
    const e4 = (await client()
      .getUser()
      .catch((e) => e)) as RateLimitedError;
    expect(e4.waitUntil).toBe(clock.now() + 900_000);
  });

  it('local mode waits out a 429 and then succeeds', async () => {
    sim.faults.push({ kind: '429', match: /^\/user$/, retryAfter: 30 });
    const t = clock.now();
    const u = await client({
      attempts: 3,
      baseMs: 100,
      capMs: 1000,
      waitForBudget: true,
    }).getUser();
    expect(u.userId).toBe(userId);
    expect(clock.now() - t).toBeGreaterThanOrEqual(30_000);
  });

  it('a hanging response and a trickling body time out as TransientError; a reset too', async () => {
    sim.faults.push({ kind: 'hang', match: /^\/fitnessActivities\/\d+$/ });
    await expect(client(LAMBDA_RETRY, 300).getItem(ref())).rejects.toBeInstanceOf(TransientError);
    sim.faults.push({ kind: 'slow', match: /^\/fitnessActivities\/\d+$/, delayMs: 3000 });
    await expect(client(LAMBDA_RETRY, 300).getItem(ref())).rejects.toBeInstanceOf(TransientError);
    sim.faults.push({ kind: 'reset', match: /^\/fitnessActivities\/\d+$/ });
    await expect(client().getItem(ref())).rejects.toBeInstanceOf(TransientError);
  });

  it('HTML maintenance pages are transient; malformed, wrong-type and mismatched documents are invalid with the raw body kept', async () => {
    sim.faults.push({ kind: 'html', match: /^\/fitnessActivities\/\d+$/ });
    await expect(client().getItem(ref())).rejects.toBeInstanceOf(TransientError);
    sim.faults.push({ kind: 'malformed', match: /^\/fitnessActivities\/\d+$/ });
    const bad = (await client()
      .getItem(ref())
      .catch((e) => e)) as InvalidPayloadError;
    expect(bad).toBeInstanceOf(InvalidPayloadError);
    expect(bad.rawBody.length).toBeGreaterThan(0);
    sim.faults.push({ kind: 'wrong-type', match: /^\/fitnessActivities\/\d+$/ });
    await expect(client().getItem(ref())).rejects.toBeInstanceOf(InvalidPayloadError);
    sim.faults.push({ kind: 'mismatch', match: /^\/fitnessActivities\/\d+$/ });
    await expect(client().getItem(ref())).rejects.toThrow(/does not match/);
  });

  it('an oversized body is cut off at the cap without buffering it all', async () => {
    sim.faults.push({
      kind: 'oversize',
      match: /^\/fitnessActivities\/\d+$/,
      bytes: 8 * 1024 * 1024,
    });
    const e = (await client()
      .getItem(ref())
      .catch((x) => x)) as InvalidPayloadError;
    expect(e).toBeInstanceOf(InvalidPayloadError);
    expect(e.message).toMatch(/cap/);
  });

  it('decodes an ISO-8859-1 response by its declared charset', async () => {
    const notes = (id: string) =>
      String((sim.document(userId, 'fitnessActivities', id) as { notes?: string }).notes ?? '');
    const accented = (t: string) => [...t].filter((ch) => /[\u00c0-\u00ff]/.test(ch)).join('');
    const id = ids.find((x) => accented(notes(x)).length > 0);
    expect(id).toBeDefined();
    sim.faults.push({ kind: 'charset-latin1', match: /^\/fitnessActivities\/\d+$/ });
    const doc = await client().getItem({ feed: 'fitnessActivities', id: id! });
    // Accented Latin-1 letters survive only if the body is decoded as ISO-8859-1, not UTF-8.
    expect(accented(String(doc.json.notes))).toBe(accented(notes(id!)));
  });

  it('revoked → RevokedError, unknown token → Unauthorized, deleted → NotFound', async () => {
    const other = sim.users.length > 1 ? sim.users[1]! : undefined;
    expect(other).toBeUndefined();
    await expect(client(LAMBDA_RETRY, 2000, 'not-a-token').getUser()).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    const victim = ids.at(-1)!;
    sim.mutate.deleteActivity(userId, victim);
    await expect(
      client().getItem({ feed: 'fitnessActivities', id: victim }),
    ).rejects.toBeInstanceOf(NotFoundError);
    sim.faults.push({
      kind: 'status',
      status: 403,
      body: '{"reason":"Revoked","delete_health":"true"}',
      match: '/user',
    });
    const e = (await client()
      .getUser()
      .catch((x) => x)) as RevokedError;
    expect(e).toBeInstanceOf(RevokedError);
    expect(e.deleteHealth).toBe(true);
  });

  it('never requests an unsafe URI: absolute, protocol-relative, traversal, foreign feed, non-numeric', async () => {
    const c = client();
    for (const bad of [
      'https://evil.example/fitnessActivities?page=1',
      '//evil.example/fitnessActivities',
      '/fitnessActivities/../user',
      '/user?x=1',
      '/fitnessActivities?page=1#frag<script>',
    ]) {
      await expect(
        c.listPage('fitnessActivities', '/fitnessActivities', bad),
      ).rejects.toBeInstanceOf(UnsafeUriError);
    }
    await expect(
      c.getItem({ feed: 'fitnessActivities', id: '../../etc/passwd' }),
    ).rejects.toBeInstanceOf(UnsafeUriError);
    await expect(
      c.getItem({ feed: 'fitnessActivities', id: '1'.repeat(21) }),
    ).rejects.toBeInstanceOf(UnsafeUriError);
    expect(c.calls).toBe(0);
  });
});

describe('OAuth', () => {
  const redirectUri = 'http://127.0.0.1:9/callback';
  it('builds the authorize URL and exchanges a single-use code; errors are mapped', async () => {
    const cfg = { authBaseUrl: sim.authBaseUrl, clientId: sim.clientId, redirectUri };
    const url = new URL(authorizeUrl(cfg, 'st4te'));
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: sim.clientId,
      redirect_uri: redirectUri,
      state: 'st4te',
    });
    // The consent page posts an approval; the redirect carries the code and the state.
    const loc = await approveConsent(url);
    expect(loc.searchParams.get('state')).toBe('st4te');
    const code = loc.searchParams.get('code')!;
    const tok = await exchangeCode(cfg, sim.clientSecret, code);
    expect(tok).toMatch(/^[0-9a-f]{32}$/);
    const replay = (await exchangeCode(cfg, sim.clientSecret, code).catch((e) => e)) as OAuthError;
    expect(replay).toBeInstanceOf(OAuthError);
    expect(replay.code).toBe('invalid_grant');
    await expect(
      exchangeCode({ ...cfg, redirectUri: 'http://127.0.0.1:9/other' }, sim.clientSecret, code),
    ).rejects.toBeInstanceOf(OAuthError);
    await expect(exchangeCode(cfg, 'wrong', 'x')).rejects.toBeInstanceOf(OAuthError);
    sim.faults.push({ kind: 'html', match: '/apps/token' });
    expect(
      ((await exchangeCode(cfg, sim.clientSecret, 'x').catch((e) => e)) as OAuthError).code,
    ).toBe('html');
    sim.faults.push({ kind: 'status', status: 503, match: '/apps/token' });
    const down = (await exchangeCode(cfg, sim.clientSecret, 'x').catch((e) => e)) as OAuthError;
    expect([down.code, down.retryable]).toEqual(['server_error', true]);
    sim.faults.push({
      kind: 'status',
      status: 200,
      body: 'not json',
      contentType: 'application/json',
      match: '/apps/token',
    });
    expect(
      ((await exchangeCode(cfg, sim.clientSecret, 'x').catch((e) => e)) as OAuthError).code,
    ).toBe('non_json');
    // De-authorize: the token then answers 403 Revoked.
    await deauthorize(cfg, tok);
    const revoked = new HealthGraphClient(
      { apiBaseUrl: sim.apiBaseUrl },
      { token: tok, budget: memoryBudget(), budgetKey: 'x', clock },
    );
    await expect(revoked.getUser()).rejects.toBeInstanceOf(RevokedError);
  });
});

/** Submit the simulator's consent form (Approve) and return the redirect target. */
async function approveConsent(authorize: URL): Promise<URL> {
  const html = await (await fetch(authorize)).text();
  const form = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.set(
      m[1]!,
      m[2]!.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'"),
    );
  }
  form.set('action', 'approve');
  const res = await fetch(new URL('/www/apps/authorize', authorize), {
    method: 'POST',
    body: form,
    redirect: 'manual',
  });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}
