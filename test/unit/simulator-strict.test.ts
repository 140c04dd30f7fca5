/**
 * The simulator is the oracle: it must be as strict as the API contract
 * (/work/shared/docs/health-graph-api.md) and share no code with the system it checks.
 * If-Modified-Since → 304, HEAD, the app-wide limits over several users, `delete_health` as
 * the docs' string, the change log's documented array shape (which the real client parses),
 * strict date filters.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryBudget } from '../../functions/core/budget.ts';
import { ManualClock } from '../../functions/core/clock.ts';
import { RateLimitedError, RevokedError } from '../../functions/core/errors.ts';
import { HealthGraphClient, LAMBDA_RETRY } from '../../functions/core/healthgraph/client.ts';
import { AppLimits } from '../../simulator/app-limits.ts';
import { type Simulator, startSimulator } from '../../simulator/server.ts';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);
const sims: Simulator[] = [];
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
});

async function sim(o: Parameters<typeof startSimulator>[0] = {}): Promise<Simulator> {
  const s = await startSimulator({ seed: 5, activities: 20, ...o });
  sims.push(s);
  return s;
}

function get(
  s: Simulator,
  path: string,
  o: { user?: number; method?: string; headers?: Record<string, string> } = {},
) {
  return fetch(`${s.apiBaseUrl}${path}`, {
    method: o.method ?? 'GET',
    headers: { authorization: `Bearer ${s.users[o.user ?? 0]!.accessToken}`, ...o.headers },
  });
}

/** The real client with a roomy budget of its own, one attempt per request. */
function client(s: Simulator, clock: ManualClock): HealthGraphClient {
  return new HealthGraphClient(
    { apiBaseUrl: s.apiBaseUrl },
    {
      token: s.users[0]!.accessToken,
      budget: memoryBudget({ limit: 1000 }),
      budgetKey: 'u',
      clock,
      retry: LAMBDA_RETRY,
    },
  );
}

describe('the simulator is as strict as the API contract', () => {
  it('shares no code with the system it checks (no import from functions/ or cli/)', () => {
    const dir = join(import.meta.dirname, '..', '..', 'simulator');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const src = readFileSync(join(dir, f), 'utf8');
      expect(src, f).not.toMatch(/from ['"][^'"]*(functions|cli)\//);
      expect(src, f).not.toMatch(/from ['"]#(core|adapters)\//);
    }
  });

  it('If-Modified-Since (HTTP-date) on an item: 304 without a body when unchanged, 200 after an edit', async () => {
    const clock = new ManualClock(START);
    const s = await sim({ clock });
    const uid = s.users[0]!.userId;
    const id = s.activityIds(uid)[3]!;
    const later = new Date(START + 60_000).toUTCString();
    const r = await get(s, `/fitnessActivities/${id}`, { headers: { 'if-modified-since': later } });
    expect(r.status).toBe(304);
    expect(await r.text()).toBe('');
    const earlier = new Date(START - 400 * 86_400_000).toUTCString();
    expect(
      (await get(s, `/fitnessActivities/${id}`, { headers: { 'if-modified-since': earlier } }))
        .status,
    ).toBe(200);
    clock.advance(120_000);
    s.mutate.editActivity(uid, id);
    const edited = await get(s, `/fitnessActivities/${id}`, {
      headers: { 'if-modified-since': later },
    });
    expect(edited.status).toBe(200);
    expect(((await edited.json()) as { uri: string }).uri).toBe(`/fitnessActivities/${id}`);
    // Not an HTTP-date: ignored, a full answer.
    expect(
      (await get(s, `/fitnessActivities/${id}`, { headers: { 'if-modified-since': 'yesterday' } }))
        .status,
    ).toBe(200);
  });

  it('HEAD: the status and headers of the GET, no body, and it counts against the limit', async () => {
    const s = await sim({ rateLimit: { calls: 3, windowMs: 60_000 } });
    const uid = s.users[0]!.userId;
    const id = s.activityIds(uid)[0]!;
    const full = await get(s, `/fitnessActivities/${id}`);
    const bodyLength = (await full.arrayBuffer()).byteLength;
    const head = await get(s, `/fitnessActivities/${id}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe(full.headers.get('content-type'));
    expect(Number(head.headers.get('content-length'))).toBe(bodyLength);
    expect(await head.text()).toBe('');
    expect((await get(s, '/fitnessActivities/1', { method: 'HEAD' })).status).toBe(404);
    expect((await get(s, '/user', { method: 'HEAD' })).status).toBe(429);
    expect(s.callLog.filter((c) => c.method === 'HEAD')).toHaveLength(3);
  });

  it('app-wide limits span users: the 429 carries the app text, which the client never reads as a per-user limit', async () => {
    const s = await sim({
      users: 3,
      rateLimit: { calls: 100, windowMs: 900_000 },
      appRateLimits: { calls15min: 5 },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(s, '/user', { user: i % 3 })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const r = await get(s, '/user', { user: 1 });
    expect(r.status).toBe(429);
    expect(((await r.json()) as { reason: string }).reason).toBe(
      'Rate-limit exceeded. rate limit is 5 calls per 15 minutes',
    );
    // Every user stayed far under the per-user limit: only the app-wide one refused.
    for (const u of s.users) expect(s.maxCallsInWindow(u.userId)).toBeLessThanOrEqual(3);
  });

  it('the daily app limit resets at 00:00 UTC, the 15-minute one slides', () => {
    const limits = new AppLimits({ calls15min: 3, callsPerDay: 4 });
    const day = Date.UTC(2026, 0, 15);
    expect(limits.hit(day + 1_000)).toBeUndefined();
    expect(limits.hit(day + 2_000)).toBeUndefined();
    expect(limits.hit(day + 3_000)).toBeUndefined();
    expect(limits.hit(day + 4_000)).toMatch(/3 calls per 15 minutes$/);
    // 15 minutes later the window has slid, but the day's count (5) is over 4.
    expect(limits.hit(day + 905_000)).toMatch(/4 calls per days1$/);
    // The next UTC day starts from zero.
    expect(limits.hit(day + 86_400_000 + 1)).toBeUndefined();
  });

  it('a revoked token answers 403 with delete_health as the string the docs show; the client reads it', async () => {
    const clock = new ManualClock(START);
    const s = await sim({ clock });
    s.revoke(s.users[0]!.userId);
    const r = await get(s, '/user');
    expect(r.status).toBe(403);
    expect(r.headers.get('content-type')).toContain('ErrorMessage+json');
    expect(await r.json()).toEqual({ reason: 'Revoked', delete_health: 'false' });
    await expect(client(s, clock).getUser()).rejects.toBeInstanceOf(RevokedError);
  });

  it('the change log in its documented array shape, parsed by the real client', async () => {
    const clock = new ManualClock(START);
    const s = await sim({ clock });
    const uid = s.users[0]!.userId;
    const since = clock.now();
    clock.advance(60_000);
    const added = s.mutate.addActivity(uid);
    const gone = s.activityIds(uid)[5]!;
    s.mutate.deleteActivity(uid, gone);
    const raw = (await (
      await get(s, `/changeLog?modifiedNoEarlierThan=${new Date(since).toISOString().slice(0, 19)}`)
    ).json()) as Record<string, unknown>;
    expect(Array.isArray(raw.fitness_activities)).toBe(true);
    const changes = await client(s, clock).getChangeLog('/changeLog', since);
    expect(changes.modified.map((m) => m.ref.id)).toEqual([added]);
    expect(changes.deleted.map((d) => d.id)).toEqual([gone]);
    expect(changes.rejected).toBe(0);
  });

  it('strict date filters: feeds take yyyy-MM-dd only, the change log date-times only, impossible dates are 400', async () => {
    const s = await sim();
    for (const q of [
      'noEarlierThan=2024-01-01T00:00:00',
      'modifiedNoEarlierThan=2024-01-01T00:00:00',
      'modifiedNoLaterThan=2024-01-01T23:59:59',
      'noLaterThan=2024-02-30',
      'noEarlierThan=2024-1-01',
    ]) {
      expect((await get(s, `/fitnessActivities?${q}`)).status, q).toBe(400);
    }
    expect((await get(s, '/fitnessActivities?modifiedNoEarlierThan=2024-01-01')).status).toBe(200);
    for (const q of [
      'modifiedNoEarlierThan=2024-01-01',
      'modifiedNoEarlierThan=2024-01-01T25:00:00',
      'modifiedNoLaterThan=2024-01-02',
    ]) {
      expect((await get(s, `/changeLog?${q}`)).status, q).toBe(400);
    }
    expect((await get(s, '/changeLog?modifiedNoEarlierThan=2024-01-01T10:00:00')).status).toBe(200);
  });

  it('a 429 from an app-wide limit is a RateLimitedError in the client', async () => {
    const clock = new ManualClock(START);
    const s = await sim({ clock, appRateLimits: { calls15min: 1 } });
    const c = client(s, clock);
    await c.getUser();
    await expect(c.getUser()).rejects.toBeInstanceOf(RateLimitedError);
  });
});
