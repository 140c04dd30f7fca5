import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../functions/core/clock.ts';
import { type Simulator, startSimulator } from '../../simulator/server.ts';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);
const FEED_TYPE = 'application/vnd.com.runkeeper.FitnessActivityFeed+json; charset=utf-8';

type Json = Record<string, unknown> & { items?: Record<string, unknown>[] };

function api(
  sim: Simulator,
  path: string,
  opts: { token?: string | null; headers?: Record<string, string>; method?: string } = {},
): Promise<Response> {
  const token = opts.token === undefined ? sim.users[0]!.accessToken : opts.token;
  const headers: Record<string, string> = { ...opts.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${sim.apiBaseUrl}${path}`, { headers, method: opts.method ?? 'GET' });
}

async function json(sim: Simulator, path: string, headers?: Record<string, string>): Promise<Json> {
  const r = await api(sim, path, headers ? { headers } : {});
  expect(r.status, path).toBe(200);
  return (await r.json()) as Json;
}

async function authorize(sim: Simulator, params: Record<string, string>): Promise<Response> {
  const q = new URLSearchParams({ response_type: 'code', client_id: sim.clientId, ...params });
  return fetch(`${sim.authBaseUrl}/apps/authorize?${q}`, { redirect: 'manual' });
}

async function token(sim: Simulator, form: Record<string, string>): Promise<Response> {
  return fetch(`${sim.authBaseUrl}/apps/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: sim.clientId,
      client_secret: sim.clientSecret,
      ...form,
    }),
  });
}

/** All items of a feed by following `next` verbatim (bounded). */
async function listAll(sim: Simulator, first: string): Promise<{ ids: string[]; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let next: string | undefined = first;
  for (let i = 0; next && i < 200; i++) {
    const page: Json = await json(sim, next);
    sizes.push(page.size as number);
    for (const item of page.items ?? []) ids.push(String(item.uri).split('/').pop()!);
    next = page.next as string | undefined;
  }
  return { ids, sizes };
}

describe('simulator: OAuth and tokens', () => {
  let sim: Simulator;
  const clock = new ManualClock(START);
  const REDIRECT = 'http://127.0.0.1:9/callback?x=1';
  beforeAll(async () => {
    sim = await startSimulator({ users: 2, activities: 5, clock, autoApprove: true });
  });
  afterAll(() => sim.close());

  it('authorize → token → /user; codes are single use', async () => {
    const r = await authorize(sim, { redirect_uri: REDIRECT, state: 's t&1' });
    expect(r.status).toBe(302);
    const loc = new URL(r.headers.get('location')!);
    expect(`${loc.origin}${loc.pathname}`).toBe('http://127.0.0.1:9/callback');
    expect(loc.searchParams.get('x')).toBe('1');
    expect(loc.searchParams.get('state')).toBe('s t&1');
    const code = loc.searchParams.get('code')!;
    expect(code).toMatch(/^[0-9a-f]{32}$/);

    const t = await token(sim, { code, redirect_uri: REDIRECT });
    expect(t.status).toBe(200);
    const body = (await t.json()) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(['access_token', 'token_type']);
    expect(body.token_type).toBe('Bearer');
    expect(body.access_token).toMatch(/^[0-9a-f]{32}$/);
    const user = await api(sim, '/user', { token: body.access_token! });
    expect(((await user.json()) as Json).userID).toBe(Number(sim.users[0]!.userId));

    const again = await token(sim, { code, redirect_uri: REDIRECT });
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ error: 'invalid_grant' });
    const log = sim.callLog.filter((c) => c.path === '/apps/token');
    expect(log.map((c) => [c.userId, c.status])).toEqual([
      [sim.users[0]!.userId, 200],
      [sim.users[0]!.userId, 400],
    ]);
  });

  it('sim_user picks the user; no state → none echoed', async () => {
    const r = await authorize(sim, { redirect_uri: REDIRECT, sim_user: sim.users[1]!.userId });
    const loc = new URL(r.headers.get('location')!);
    expect(loc.searchParams.has('state')).toBe(false);
    const t = await token(sim, { code: loc.searchParams.get('code')!, redirect_uri: REDIRECT });
    const { access_token } = (await t.json()) as { access_token: string };
    const user = (await (await api(sim, '/user', { token: access_token })).json()) as Json;
    expect(user.userID).toBe(Number(sim.users[1]!.userId));
  });

  it('rejects redirect_uri mismatch, wrong secret, wrong client, expired code', async () => {
    const code = async (): Promise<string> =>
      new URL(
        (await authorize(sim, { redirect_uri: REDIRECT })).headers.get('location')!,
      ).searchParams.get('code')!;
    const c1 = await code();
    const mismatch = await token(sim, { code: c1, redirect_uri: 'http://127.0.0.1:9/other' });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.json()).toEqual({ error: 'invalid_grant' });
    const secret = await token(sim, { code: c1, redirect_uri: REDIRECT, client_secret: 'nope' });
    expect(secret.status).toBe(400);
    expect(await secret.json()).toEqual({ error: 'invalid_grant' });
    const client = await token(sim, { code: c1, redirect_uri: REDIRECT, client_id: 'nope' });
    expect(client.status).toBe(401);
    expect(await client.json()).toEqual({ error: 'invalid_client' });
    // The failed attempts did not burn it.
    expect((await token(sim, { code: c1, redirect_uri: REDIRECT })).status).toBe(200);

    const c2 = await code();
    clock.advance(10 * 60_000 + 1);
    expect((await token(sim, { code: c2, redirect_uri: REDIRECT })).status).toBe(400);
  });

  it('validates authorize parameters', async () => {
    expect((await authorize(sim, { redirect_uri: REDIRECT, client_id: 'x' })).status).toBe(400);
    expect((await authorize(sim, { redirect_uri: REDIRECT, response_type: 'token' })).status).toBe(
      400,
    );
    expect((await authorize(sim, { redirect_uri: 'not a url' })).status).toBe(400);
  });

  it('consent page: approve and deny', async () => {
    const manual = await startSimulator({ activities: 1, clock });
    try {
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: manual.clientId,
        redirect_uri: REDIRECT,
        state: 'abc',
      });
      const page = await fetch(`${manual.authBaseUrl}/apps/authorize?${q}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      const html = await page.text();
      expect(html).toContain('value="approve"');
      expect(html).toContain('value="deny"');
      const post = (action: string): Promise<Response> =>
        fetch(`${manual.authBaseUrl}/apps/authorize`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `${q}&action=${action}`,
        });
      const deny = new URL((await post('deny')).headers.get('location')!);
      expect(deny.searchParams.get('error')).toBe('access_denied');
      expect(deny.searchParams.get('state')).toBe('abc');
      expect(deny.searchParams.has('code')).toBe(false);
      const ok = new URL((await post('approve')).headers.get('location')!);
      expect(ok.searchParams.get('code')).toMatch(/^[0-9a-f]{32}$/);
      expect(ok.searchParams.get('state')).toBe('abc');
    } finally {
      await manual.close();
    }
  });

  it('401 without or with an unknown token; access_token query param works', async () => {
    const none = await api(sim, '/user', { token: null });
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ reason: 'Unauthorized' });
    expect((await api(sim, '/user', { token: 'f'.repeat(32) })).status).toBe(401);
    const q = await fetch(`${sim.apiBaseUrl}/user?access_token=${sim.users[0]!.accessToken}`);
    expect(q.status).toBe(200);
    const rec = sim.callLog.at(-1)!;
    expect(rec.path).toBe('/user');
    expect(
      sim.callLog
        .filter((c) => c.status === 401 && !c.path.startsWith('/apps/'))
        .every((c) => c.userId === null),
    ).toBe(true);
  });

  it('de-authorize → 204, then 403 Revoked; the callback is told', async () => {
    const received: string[] = [];
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        received.push(body);
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const port = (hook.address() as AddressInfo).port;
    const s = await startSimulator({
      activities: 1,
      clock,
      deauthCallbackUrl: `http://127.0.0.1:${port}/deauth`,
    });
    try {
      const tok = s.users[0]!.accessToken;
      const r = await fetch(`${s.authBaseUrl}/apps/de-authorize`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `access_token=${tok}`,
      });
      expect(r.status).toBe(204);
      const after = await api(s, '/user', { token: tok });
      expect(after.status).toBe(403);
      expect(after.headers.get('content-type')).toContain(
        'application/vnd.com.runkeeper.ErrorMessage+json',
      );
      expect(await after.json()).toEqual({ reason: 'Revoked', delete_health: 'false' });
      for (let i = 0; i < 50 && received.length === 0; i++)
        await new Promise((r2) => setTimeout(r2, 10));
      expect(received.map((b) => JSON.parse(b))).toEqual([{ access_token: tok }]);
    } finally {
      await s.close();
      await new Promise((r) => hook.close(r));
    }
  });

  it('revoke(userId) kills every token of that user only', async () => {
    sim.revoke(sim.users[1]!.userId);
    expect((await api(sim, '/user', { token: sim.users[1]!.accessToken })).status).toBe(403);
    expect((await api(sim, '/user')).status).toBe(200);
  });
});

describe('simulator: resources', () => {
  let sim: Simulator;
  const clock = new ManualClock(START);
  beforeAll(async () => {
    sim = await startSimulator({
      activities: 60,
      clock,
      maxPageSize: 20,
      rateLimit: { calls: 1_000_000, windowMs: 1 },
    });
  });
  afterAll(() => sim.close());

  it('/user lists every resource with relative URIs', async () => {
    const r = await api(sim, '/user');
    expect(r.headers.get('content-type')).toBe(
      'application/vnd.com.runkeeper.User+json; charset=utf-8',
    );
    expect(await r.json()).toEqual({
      userID: Number(sim.users[0]!.userId),
      profile: '/profile',
      settings: '/settings',
      fitness_activities: '/fitnessActivities',
      strength_training_activities: '/strengthTrainingActivities',
      background_activities: '/backgroundActivities',
      sleep: '/sleep',
      nutrition: '/nutrition',
      weight: '/weight',
      general_measurements: '/generalMeasurements',
      diabetes: '/diabetes',
      records: '/records',
      team: '/team',
      change_log: '/changeLog',
    });
    expect(sim.users[0]!.userId).toMatch(/^\d{8}$/);
    expect((await api(sim, '/user/')).status).toBe(200);
  });

  it('pages newest first; next repeats every filter; sizes reconcile', async () => {
    const r = await api(sim, '/fitnessActivities?pageSize=7');
    expect(r.headers.get('content-type')).toBe(FEED_TYPE);
    const page0 = (await r.json()) as Json;
    expect(page0.size).toBe(60);
    expect(page0.items).toHaveLength(7);
    expect(page0.previous).toBeUndefined();
    expect(page0.next).toBe(
      '/fitnessActivities?page=1&pageSize=7&noEarlierThan=1970-01-01&noLaterThan=2026-01-17&modifiedNoEarlierThan=1970-01-01&modifiedNoLaterThan=2026-01-17',
    );
    const item = page0.items![0]!;
    expect(Object.keys(item)).toEqual(
      expect.arrayContaining(['uri', 'type', 'start_time', 'total_distance', 'duration']),
    );
    expect(item.uri).toMatch(/^\/fitnessActivities\/\d{9}$/);
    expect(item.start_time).toMatch(
      /^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}$/,
    );

    const { ids, sizes } = await listAll(sim, '/fitnessActivities?pageSize=7');
    expect(ids).toEqual(sim.activityIds(sim.users[0]!.userId));
    expect(new Set(sizes)).toEqual(new Set([60]));
    const last = await json(sim, '/fitnessActivities?pageSize=7&page=8');
    expect(last.next).toBeUndefined();
    expect(last.previous).toContain('page=7&pageSize=7');
    expect((await json(sim, '/fitnessActivities?page=99')).items).toEqual([]);
  });

  it('any pageSize: following next yields every item exactly once, newest first', async () => {
    const uid = sim.users[0]!.userId;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 25 }), async (pageSize) => {
        const { ids, sizes } = await listAll(sim, `/fitnessActivities?pageSize=${pageSize}`);
        expect(ids).toEqual(sim.activityIds(uid));
        expect(sizes).toHaveLength(Math.ceil(ids.length / pageSize));
      }),
      { numRuns: 8 },
    );
  });

  it('clamps pageSize to maxPageSize and rejects bad params', async () => {
    const p = await json(sim, '/fitnessActivities?pageSize=500');
    expect(p.items).toHaveLength(20);
    expect(p.next).toContain('pageSize=20&');
    for (const q of [
      'page=-1',
      'pageSize=0',
      'pageSize=abc',
      'noEarlierThan=2024-13-01',
      'noLaterThan=yesterday',
      'modifiedNoEarlierThan=2024-02-30',
      'noEarlierThan=2024-01-01T00:00:00',
    ]) {
      expect((await api(sim, `/fitnessActivities?${q}`)).status, q).toBe(400);
    }
    // Strict like the API: feed filters are dates only, the modified ones too.
    expect(
      (await api(sim, '/fitnessActivities?modifiedNoEarlierThan=2025-01-01T10:00:00')).status,
    ).toBe(400);
    expect((await api(sim, '/fitnessActivities?modifiedNoEarlierThan=2025-01-01')).status).toBe(
      200,
    );
  });

  it('filters by local start date (inclusive) and echoes the filters', async () => {
    const uid = sim.users[0]!.userId;
    const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';
    const localDate = (id: string): string => {
      const st = String((sim.document(uid, 'fitnessActivities', id) as Json).start_time);
      const [, d, mon, y] = /^\w{3}, (\d{1,2}) (\w{3}) (\d{4}) /.exec(st)!;
      const m = MONTHS.indexOf(mon!) / 3 + 1;
      return `${y}-${String(m).padStart(2, '0')}-${d!.padStart(2, '0')}`;
    };
    const all = sim.activityIds(uid);
    // Bounds taken from real items, to prove both ends are inclusive.
    const dates = all.map(localDate).sort();
    const lo = dates[10]!;
    const hi = dates[40]!;
    const expected = all.filter((id) => localDate(id) >= lo && localDate(id) <= hi);
    const q = `/fitnessActivities?pageSize=5&noEarlierThan=${lo}&noLaterThan=${hi}`;
    const page = await json(sim, q);
    expect(page.size).toBe(expected.length);
    expect(page.next).toContain(
      `&noEarlierThan=${lo}&noLaterThan=${hi}&modifiedNoEarlierThan=1970-01-01&modifiedNoLaterThan=`,
    );
    const inRange = await listAll(sim, q);
    expect(inRange.ids).toEqual(expected);
  });

  it('full and summary documents; Accept negotiation', async () => {
    const ids = sim.activityIds(sim.users[0]!.userId);
    const withPath = ids.find(
      (id) =>
        (sim.document(sim.users[0]!.userId, 'fitnessActivities', id) as Json).has_path === true,
    )!;
    const full = await api(sim, `/fitnessActivities/${withPath}`, {
      headers: { accept: 'application/vnd.com.runkeeper.FitnessActivity+json' },
    });
    expect(full.headers.get('content-type')).toBe(
      'application/vnd.com.runkeeper.FitnessActivity+json; charset=utf-8',
    );
    const doc = (await full.json()) as Json;
    expect(doc).toEqual(sim.document(sim.users[0]!.userId, 'fitnessActivities', withPath));
    const path = doc.path as { type: string; timestamp: number }[];
    expect(path.length).toBeGreaterThanOrEqual(50);
    expect(path[0]!.type).toBe('start');
    expect(path.at(-1)!.type).toBe('end');
    expect(doc.comments).toBe(`/fitnessActivities/${withPath}/comments`);
    expect(doc.activity).toBe(
      `https://runkeeper.com/user/${sim.users[0]!.userId}/activity/${withPath}`,
    );
    for (let i = 1; i < path.length; i++) {
      expect(path[i]!.timestamp).toBeGreaterThanOrEqual(path[i - 1]!.timestamp);
    }
    const summary = await api(sim, `/fitnessActivities/${withPath}`, {
      headers: { accept: 'application/vnd.com.runkeeper.FitnessActivitySummary+json' },
    });
    expect(summary.headers.get('content-type')).toContain('FitnessActivitySummary+json');
    const s = (await summary.json()) as Json;
    for (const k of ['path', 'heart_rate', 'distance', 'calories']) expect(s).not.toHaveProperty(k);
    expect(s.uri).toBe(doc.uri);
    for (const accept of ['*/*', 'application/json', 'text/html, */*;q=0.8']) {
      expect(
        (await api(sim, `/fitnessActivities/${withPath}`, { headers: { accept } })).status,
      ).toBe(200);
    }
    const wrong = await api(sim, `/fitnessActivities/${withPath}`, {
      headers: { accept: 'application/vnd.com.runkeeper.WeightSet+json' },
    });
    expect(wrong.status).toBe(406);
    expect(
      (
        await api(sim, '/user', {
          headers: { accept: 'application/vnd.com.runkeeper.FitnessActivityFeed+json' },
        })
      ).status,
    ).toBe(406);
    expect((await api(sim, '/fitnessActivities/123')).status).toBe(404);
    expect((await api(sim, '/nope')).status).toBe(404);
    expect((await api(sim, '/user', { method: 'POST' })).status).toBe(405);
    expect((await api(sim, '/user', { method: 'POST' })).headers.get('allow')).toBe('GET, HEAD');
  });

  it('data has the documented variety', () => {
    const big = sim.activityIds(sim.users[0]!.userId);
    const docs = big.map(
      (id) => sim.document(sim.users[0]!.userId, 'fitnessActivities', id) as Json,
    );
    expect(docs.some((d) => d.entry_mode === 'Web' && (d.path as unknown[]).length === 0)).toBe(
      true,
    );
    expect(docs.some((d) => d.utc_offset === undefined)).toBe(true);
    expect(docs.some((d) => d.average_heart_rate === undefined)).toBe(true);
    expect(docs.every((d) => Number.isInteger(d.utc_offset ?? 0))).toBe(true);
    for (const d of docs) {
      if (d.average_heart_rate === undefined) expect(d.heart_rate).toEqual([]);
      const dist = d.distance as { distance: number }[];
      for (let i = 1; i < dist.length; i++) {
        expect(dist[i]!.distance).toBeGreaterThanOrEqual(dist[i - 1]!.distance);
      }
    }
  });

  it('other feeds, items, profile, settings, records, team, comments', async () => {
    for (const feed of [
      'strengthTrainingActivities',
      'backgroundActivities',
      'sleep',
      'nutrition',
      'weight',
      'generalMeasurements',
      'diabetes',
    ]) {
      const page = await json(sim, `/${feed}`);
      expect(page.size, feed).toBeGreaterThan(0);
      const uri = String(page.items![0]!.uri);
      expect(uri).toMatch(new RegExp(`^/${feed}/\\d+$`));
      const item = await json(sim, uri);
      expect(item.uri).toBe(uri);
    }
    const strength = await json(sim, '/strengthTrainingActivities');
    const st = await json(sim, String(strength.items![0]!.uri));
    expect((st.exercises as { sets: unknown[] }[])[0]!.sets.length).toBeGreaterThan(0);
    const profile = await json(sim, '/profile');
    expect(profile.name).toBe('Zoë Ørsted-Müller');
    expect(await json(sim, '/settings')).toHaveProperty('distance_units');
    const records = await (await api(sim, '/records')).json();
    expect(Array.isArray(records)).toBe(true);
    const team = await json(sim, '/team');
    expect(team.items).toHaveLength(2);
    expect(team.items![0]).toHaveProperty('url');
    expect(team.items![0]).not.toHaveProperty('uri');
    const id = sim.activityIds(sim.users[0]!.userId)[0]!;
    const thread = await api(sim, `/fitnessActivities/${id}/comments`);
    expect(thread.headers.get('content-type')).toContain('CommentThread+json');
    const t = (await thread.json()) as Json;
    expect(t.uri).toBe(`/fitnessActivities/${id}/comments`);
    expect(Array.isArray(t.comments)).toBe(true);
  });

  it('images are absolute URLs serving JPEG bytes without auth', async () => {
    const sim2 = await startSimulator({ activities: 200, clock });
    try {
      const uid = sim2.users[0]!.userId;
      const doc = sim2
        .activityIds(uid)
        .map((id) => sim2.document(uid, 'fitnessActivities', id) as Json)
        .find((d) => (d.images as unknown[]).length > 0)!;
      const img = (doc.images as Record<string, string>[])[0]!;
      expect(img.uri).toMatch(new RegExp(`^${sim2.apiBaseUrl.replace('/api', '')}/img/`));
      for (const u of [img.uri!, img.thumbnail_uri!]) {
        const r = await fetch(u);
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toBe('image/jpeg');
        const bytes = new Uint8Array(await r.arrayBuffer());
        expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
        expect([bytes.at(-2), bytes.at(-1)]).toEqual([0xff, 0xd9]);
      }
    } finally {
      await sim2.close();
    }
  });

  it('mutations: add, edit, delete show up in feed, item, and change log', async () => {
    const uid = sim.users[0]!.userId;
    clock.advance(60_000);
    const since = new Date(clock.now()).toISOString().slice(0, 19);
    const before = sim.activityIds(uid);
    const added = sim.mutate.addActivity(uid);
    expect(sim.activityIds(uid)[0]).toBe(added);
    const edited = before[10]!;
    const oldNotes = (sim.document(uid, 'fitnessActivities', edited) as Json).notes;
    sim.mutate.editActivity(uid, edited);
    expect((sim.document(uid, 'fitnessActivities', edited) as Json).notes).not.toBe(oldNotes);
    const deleted = before[20]!;
    sim.mutate.deleteActivity(uid, deleted);
    expect((await api(sim, `/fitnessActivities/${deleted}`)).status).toBe(404);
    expect(sim.activityIds(uid)).not.toContain(deleted);
    const { ids } = await listAll(sim, '/fitnessActivities?pageSize=20');
    expect(ids).toHaveLength(60);
    expect(ids).not.toContain(deleted);

    const log = await api(sim, `/changeLog?modifiedNoEarlierThan=${since}`);
    expect(log.headers.get('content-type')).toContain('ChangeLog+json');
    // The documented shape: each feed key holds an array of changes.
    const cl = (await log.json()) as Record<string, { modified: Json[]; deleted: string[] }[]>;
    expect(Object.keys(cl).sort()).toEqual(
      [
        'background_activities',
        'diabetes',
        'fitness_activities',
        'general_measurements',
        'nutrition',
        'sleep',
        'strength_training_activities',
        'weight',
      ].sort(),
    );
    expect(cl.fitness_activities![0]!.modified.map((m) => m.uri).sort()).toEqual(
      [`/fitnessActivities/${added}`, `/fitnessActivities/${edited}`].sort(),
    );
    expect(cl.fitness_activities![0]!.deleted).toEqual([`/fitnessActivities/${deleted}`]);
    expect(cl.sleep).toEqual([{ modified: [], deleted: [] }]);

    // Modified filter on the feed (date granularity).
    const day = since.slice(0, 10);
    const mod = await json(sim, `/fitnessActivities?modifiedNoEarlierThan=${day}`);
    expect((mod.items ?? []).map((i) => i.uri)).toEqual(
      expect.arrayContaining([`/fitnessActivities/${added}`, `/fitnessActivities/${edited}`]),
    );
    // A window ending before the change excludes it; windows are capped at 7 days.
    const old = await json(sim, '/changeLog?modifiedNoEarlierThan=2025-11-01T00:00:00');
    expect((old.fitness_activities as { deleted: string[] }[])[0]!.deleted).toEqual([]);
    expect((await api(sim, '/changeLog?modifiedNoEarlierThan=yesterday')).status).toBe(400);
    // The change log takes date-times only.
    expect((await api(sim, '/changeLog?modifiedNoEarlierThan=2025-11-01')).status).toBe(400);
  });
});

describe('simulator: rate limit', () => {
  it('N+1-th call in the window gets 429 with the reason; the window slides', async () => {
    const clock = new ManualClock(START);
    const sim = await startSimulator({
      activities: 3,
      clock,
      rateLimit: { calls: 5, windowMs: 60_000 },
    });
    try {
      const uid = sim.users[0]!.userId;
      for (let i = 0; i < 5; i++) {
        expect((await api(sim, '/user')).status).toBe(200);
        clock.advance(1_000);
      }
      await api(sim, '/user', { token: null }); // 401s without a user do not count
      const r = await api(sim, '/user');
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBeNull();
      expect(await r.json()).toEqual({
        reason: 'Rate-limit exceeded. rate limit is 5 calls per 1 minutes for this user',
      });
      expect(sim.http429()).toBe(1);
      expect(sim.maxCallsInWindow(uid)).toBe(6);
      // First call at START leaves the window at START + 60 s.
      clock.set(START + 60_000 + 1);
      expect((await api(sim, '/user')).status).toBe(429); // the 429 itself still counts
      clock.set(START + 10 * 60_000);
      expect((await api(sim, '/user')).status).toBe(200);
      expect(sim.maxCallsInWindow(uid)).toBe(6);
    } finally {
      await sim.close();
    }
  });

  it('injected faults and revoked calls count toward the limit', async () => {
    const clock = new ManualClock(START);
    const sim = await startSimulator({
      activities: 1,
      clock,
      rateLimit: { calls: 3, windowMs: 900_000 },
    });
    try {
      sim.faults.push({ kind: 'status', status: 500, times: 2 });
      expect((await api(sim, '/user')).status).toBe(500);
      expect((await api(sim, '/user')).status).toBe(500);
      expect((await api(sim, '/user')).status).toBe(200);
      const r = await api(sim, '/user');
      expect(r.status).toBe(429);
      expect(((await r.json()) as Json).reason).toBe(
        'Rate-limit exceeded. rate limit is 3 calls per 15 minutes for this user',
      );
      expect(sim.maxCallsInWindow(sim.users[0]!.userId)).toBe(4);
    } finally {
      await sim.close();
    }
  });

  it('maxCallsInWindow is the densest window', async () => {
    const clock = new ManualClock(START);
    const sim = await startSimulator({
      activities: 1,
      clock,
      rateLimit: { calls: 100, windowMs: 10_000 },
    });
    try {
      for (let i = 0; i < 12; i++) {
        await api(sim, '/user');
        clock.advance(i < 6 ? 1_000 : 5_000);
      }
      // 0..6 s: seven calls inside one 10 s window.
      expect(sim.maxCallsInWindow(sim.users[0]!.userId)).toBe(7);
      expect(sim.http429()).toBe(0);
    } finally {
      await sim.close();
    }
  });
});

describe('simulator: faults', () => {
  let sim: Simulator;
  const clock = new ManualClock(START);
  beforeAll(async () => {
    sim = await startSimulator({
      activities: 30,
      clock,
      rateLimit: { calls: 100_000, windowMs: 1 },
    });
  });
  afterAll(() => sim.close());

  it('status with match and times; then normal again; faults count as calls', async () => {
    sim.faults.push({ match: /^\/fitnessActivities\/\d+$/, kind: 'status', status: 503, times: 2 });
    expect((await api(sim, '/user')).status).toBe(200);
    const id = sim.activityIds(sim.users[0]!.userId)[0]!;
    expect((await api(sim, `/fitnessActivities/${id}`)).status).toBe(503);
    expect((await api(sim, `/fitnessActivities/${id}`)).status).toBe(503);
    expect((await api(sim, `/fitnessActivities/${id}`)).status).toBe(200);
    expect(sim.callLog.slice(-3).map((c) => c.status)).toEqual([503, 503, 200]);
    sim.faults.push({
      kind: 'status',
      status: 502,
      body: '<h1>Bad gateway</h1>',
      contentType: 'text/html',
    });
    const r = await api(sim, '/user');
    expect(r.status).toBe(502);
    expect(await r.text()).toBe('<h1>Bad gateway</h1>');
  });

  it('429 with Retry-After and custom reason', async () => {
    sim.faults.push({
      kind: '429',
      retryAfter: 120,
      reason: 'Rate-limit exceeded. rate limit is 5000 calls per 15 minutes',
    });
    const r = await api(sim, '/user');
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('120');
    expect(((await r.json()) as Json).reason).toContain('5000 calls per 15 minutes');
  });

  it('www-side faults need an explicit match', async () => {
    sim.faults.push({ match: '/apps/token', kind: 'status', status: 503 });
    expect((await api(sim, '/user')).status).toBe(200);
    const r = await token(sim, { code: 'x', redirect_uri: 'http://127.0.0.1:9/' });
    expect(r.status).toBe(503);
    expect(sim.callLog.at(-1)).toMatchObject({ path: '/apps/token', status: 503 });
  });

  it('malformed, html, wrong-type, mismatch, charset-latin1', async () => {
    sim.faults.push({ match: '/profile', kind: 'malformed' });
    const m = await api(sim, '/profile');
    expect(m.status).toBe(200);
    await expect(m.json()).rejects.toThrow();

    sim.faults.push({ kind: 'html' });
    const h = await api(sim, '/user');
    expect(h.status).toBe(200);
    expect(h.headers.get('content-type')).toContain('text/html');

    sim.faults.push({ kind: 'wrong-type' });
    expect(Array.isArray(await (await api(sim, '/user')).json())).toBe(true);

    const id = sim.activityIds(sim.users[0]!.userId)[3]!;
    sim.faults.push({ kind: 'mismatch' });
    const mm = (await (await api(sim, `/fitnessActivities/${id}`)).json()) as Json;
    expect(mm.uri).not.toBe(`/fitnessActivities/${id}`);
    expect(mm.userID).not.toBe(Number(sim.users[0]!.userId));

    sim.faults.push({ kind: 'charset-latin1' });
    const l = await api(sim, '/profile');
    expect(l.headers.get('content-type')).toBe(
      'application/vnd.com.runkeeper.Profile+json; charset=ISO-8859-1',
    );
    const bytes = new Uint8Array(await l.arrayBuffer());
    const text = new TextDecoder('latin1').decode(bytes);
    const profile = JSON.parse(text) as Json;
    expect(profile.name).toBe('Zoë Ørsted-Müller');
    expect(bytes).toContain(0xeb); // ë as one byte
  });

  it('slow trickles, oversize streams, reset and hang fail the request', async () => {
    sim.faults.push({ kind: 'slow', delayMs: 300 });
    const t0 = performance.now();
    const s = await api(sim, '/user');
    expect(((await s.json()) as Json).userID).toBe(Number(sim.users[0]!.userId));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);

    sim.faults.push({ kind: 'oversize', bytes: 3_000_000 });
    const o = await api(sim, '/user');
    expect((await o.arrayBuffer()).byteLength).toBe(3_000_000);

    sim.faults.push({ kind: 'reset' });
    await expect(api(sim, '/user')).rejects.toThrow();

    sim.faults.push({ kind: 'hang' });
    await expect(
      fetch(`${sim.apiBaseUrl}/user`, {
        headers: { authorization: `Bearer ${sim.users[0]!.accessToken}` },
        signal: AbortSignal.timeout(200),
      }),
    ).rejects.toThrow();
    expect((await api(sim, '/user')).status).toBe(200);
    expect(sim.faults.pending()).toBe(0);
  });

  it('hang and oversize do not keep close() waiting', async () => {
    const s2 = await startSimulator({ activities: 1, clock });
    s2.faults.push({ kind: 'hang' }, { kind: 'slow', delayMs: 60_000 });
    const h = api(s2, '/user').catch(() => 'failed');
    const sl = api(s2, '/user')
      .then((r) => r.text())
      .catch(() => 'failed');
    await new Promise((r) => setTimeout(r, 50));
    // A close() that waited for the 60 s trickle would outlast the test's timeout.
    await s2.close();
    expect(await h).toBe('failed');
    expect(await sl).toBe('failed');
  });

  it('random: bursts, storms, rate5xx; clear()', async () => {
    sim.faults.set({ burst5xx: { every: 4, length: 2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await api(sim, '/user')).status);
    expect(statuses).toEqual([200, 200, 503, 503, 200, 200, 503, 503]);
    sim.faults.clear();
    sim.faults.set({ storm429: { every: 3, length: 1 } });
    const s429: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await api(sim, '/user');
      s429.push(r.status);
      if (r.status === 429) expect(r.headers.get('retry-after')).toBeNull();
    }
    expect(s429).toEqual([200, 200, 429, 200, 200, 429]);
    sim.faults.clear();
    sim.faults.set({ rate5xx: 1 });
    for (let i = 0; i < 5; i++)
      expect((await api(sim, '/user')).status).toBeGreaterThanOrEqual(500);
    sim.faults.clear();
    expect((await api(sim, '/user')).status).toBe(200);
  });

  it('insertDuringPaging shifts pages while a client follows next', async () => {
    const uid = sim.users[0]!.userId;
    const before = sim.activityIds(uid).length;
    sim.faults.set({ insertDuringPaging: 2 });
    const { ids, sizes } = await listAll(sim, '/fitnessActivities?pageSize=10');
    sim.faults.clear();
    const after = sim.activityIds(uid).length;
    expect(after).toBeGreaterThan(before);
    expect(sizes[0]).toBe(before);
    expect(sizes.at(-1)).toBeGreaterThan(before);
    // Shifted pages repeat items the client already saw.
    expect(new Set(ids).size).toBeLessThan(ids.length);
  });
});

describe('simulator: command', () => {
  it('prints one JSON line, serves with a scaled clock, exits on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        'simulator/main.ts',
        '--port',
        '0',
        '--activities',
        '5',
        '--time-scale',
        '60',
        '--rate-limit',
        '2',
        '--auto-approve',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const lines = createInterface({ input: child.stdout! });
      const first = await new Promise<string>((resolve, reject) => {
        lines.once('line', resolve);
        child.once('exit', () => reject(new Error('simulator exited early')));
      });
      const info = JSON.parse(first) as Record<string, string> & { users: unknown[] };
      expect(Object.keys(info)).toEqual([
        'authBaseUrl',
        'apiBaseUrl',
        'clientId',
        'clientSecret',
        'userId',
        'accessToken',
        'users',
      ]);
      const call = (): Promise<Response> =>
        fetch(`${info.apiBaseUrl}/user`, {
          headers: { authorization: `Bearer ${info.accessToken}` },
        });
      expect((await call()).status).toBe(200);
      expect((await call()).status).toBe(200);
      expect((await call()).status).toBe(429);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('simulator: determinism', () => {
  it('same seed and day → same data; another seed → different', async () => {
    const a = await startSimulator({ activities: 20, clock: new ManualClock(START), seed: 7 });
    const b = await startSimulator({
      activities: 20,
      clock: new ManualClock(START + 3_600_000),
      seed: 7,
    });
    const c = await startSimulator({ activities: 20, clock: new ManualClock(START), seed: 8 });
    try {
      const strip = (s: Simulator, v: unknown): string =>
        JSON.stringify(v).replaceAll(s.apiBaseUrl.replace('/api', ''), 'ORIGIN');
      expect(a.users).toEqual(b.users);
      expect(a.clientId).toBe(b.clientId);
      const uid = a.users[0]!.userId;
      expect(a.activityIds(uid)).toEqual(b.activityIds(uid));
      for (const id of a.activityIds(uid)) {
        expect(strip(a, a.document(uid, 'fitnessActivities', id))).toBe(
          strip(b, b.document(uid, 'fitnessActivities', id)),
        );
      }
      expect(a.activityIds(uid)).not.toEqual(c.activityIds(c.users[0]!.userId));
      expect(a.users[0]!.accessToken).not.toBe(c.users[0]!.accessToken);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});
