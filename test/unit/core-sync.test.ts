/**
 * The sync core end to end in virtual time: simulator over loopback, in-memory adapters,
 * the same scheduler/fetcher the Lambdas and the CLI run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { budgetKey } from '../../functions/core/budget.ts';
import { FEED_NAMES } from '../../functions/core/keys.ts';
import { driveLocalSync } from '../../functions/core/sync/driver.ts';
import { handleFetch } from '../../functions/core/sync/fetcher.ts';
import { reopenFailed } from '../../functions/core/sync/retry.ts';
import { runScheduler } from '../../functions/core/sync/scheduler.ts';
import { type CoreHarness, coreHarness, storedIds } from '../helpers/core-harness.ts';

let h: CoreHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('core sync against the simulator (virtual time)', () => {
  it('backfills 500 activities with zero 429s, the minimum number of calls, in the floor of ⌊(C−1)/98⌋ windows (the free calls spent at once)', async () => {
    h = await coreHarness({ sim: { activities: 500, seed: 7 } });
    const userId = h.sim.users[0]!.userId;
    const ids = h.sim.activityIds(userId);
    const isLive = (id: string) =>
      (h!.sim.document(userId, 'fitnessActivities', id) as { is_live?: boolean }).is_live === true;
    const liveAtStart = new Set(ids.filter(isLive));
    expect(liveAtStart.size).toBeGreaterThan(0);
    const t0 = h.clock.now();
    const r = await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    expect(r.stopped).toBe('done');
    expect(await storedIds(h.store, userId)).toEqual([...ids].sort());
    expect(h.sim.http429()).toBe(0);
    expect(h.sim.maxCallsInWindow(userId)).toBeLessThanOrEqual(100);
    const log = h.sim.callLog.filter((c) => c.userId === userId);
    const calls = log.length;
    // The minimum: one /user, ceil(N/100) pages, one GET per activity (live ones are re-fetched
    // once they end), the three singleton documents; no change-log poll while the backfill lists
    expect(log.filter((c) => c.path === '/user')).toHaveLength(1);
    expect(log.filter((c) => c.path.startsWith('/fitnessActivities?'))).toHaveLength(5);
    // (At most one: the local driver's first poll once listing is done, fetches still running.)
    expect(log.filter((c) => c.path.startsWith('/changeLog')).length).toBeLessThanOrEqual(1);
    const gets = new Map<string, number>();
    for (const c of log) {
      const m = /^\/fitnessActivities\/(\d+)$/.exec(c.path);
      if (m) gets.set(m[1]!, (gets.get(m[1]!) ?? 0) + 1);
    }
    for (const id of ids) if (!liveAtStart.has(id)) expect(gets.get(id)).toBe(1);
    const counts = await h.ledger.counts(userId);
    // Still being recorded at their last fetch: stored, PENDING for a later fetch; the rest SYNCED.
    const pending = await h.ledger.list(userId, 'PENDING');
    expect(counts.SYNCED + pending.length).toBe(500);
    for (const it of pending) expect(liveAtStart.has(it.id)).toBe(true);
    for (const id of ids.filter(isLive)) expect(pending.map((it) => it.id)).toContain(id);
    // Burst start: the first window's 98 calls all go at the first instant, not one per 9 s.
    expect(log.filter((c) => c.t === t0)).toHaveLength(98);
    // Completion within the floor: ⌊(C−1)/98⌋ windows of 900 s, plus 60 s.
    const elapsed = h.clock.now() - t0;
    expect(elapsed).toBeLessThanOrEqual(Math.floor((calls - 1) / 98) * 900_000 + 60_000);
  });

  it('an idle scheduled run costs exactly one API call and writes no ledger item', async () => {
    h = await coreHarness({ sim: { activities: 30 } });
    const userId = h.sim.users[0]!.userId;
    await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    h.clock.advance(900_000);
    const before = h.sim.callLog.length;
    const writes = h.ledger.writes;
    const run = await runScheduler(h.deps, h.cfg, userId);
    expect(run).toMatchObject({ outcome: 'ok', enqueued: 0, apiCalls: 1 });
    expect(h.sim.callLog.length - before).toBe(1);
    expect(h.sim.callLog.at(-1)?.path).toMatch(/^\/changeLog\?modifiedNoEarlierThan=/);
    expect(h.ledger.writes).toBe(writes);
    expect(h.queue.size).toBe(0);
  });

  it('picks up new, edited and deleted activities through the change log', async () => {
    h = await coreHarness({ sim: { activities: 20 } });
    const userId = h.sim.users[0]!.userId;
    await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    const [a, b] = h.sim.activityIds(userId);
    h.clock.advance(60_000);
    const added = h.sim.mutate.addActivity(userId);
    h.sim.mutate.editActivity(userId, a!);
    h.sim.mutate.deleteActivity(userId, b!);
    h.clock.advance(900_000);
    const r = await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    expect(r.stopped).toBe('done');
    expect(await storedIds(h.store, userId)).toContain(added);
    const editedKey = `raw/${userId}/fitnessActivities/${a}.json`;
    expect(h.store.versions.get(editedKey)).toHaveLength(2);
    expect((await h.ledger.get(userId, 'fitnessActivities', b!))?.status).toBe('DELETED');
    // Bytes of the deleted activity are kept.
    expect(await h.store.get(`raw/${userId}/fitnessActivities/${b}.json`)).toBeDefined();
    expect(h.sim.http429()).toBe(0);
  });

  it('a duplicate delivery costs no call and adds no version; a crash after the write heals on redelivery', async () => {
    h = await coreHarness({ sim: { activities: 3 } });
    const userId = h.sim.users[0]!.userId;
    const run = await runScheduler(h.deps, h.cfg, userId);
    expect(run.enqueued).toBe(3);
    const msgs = h.queue.pending.map((m) => m.body);
    const first = msgs[0]!;
    await expect(
      handleFetch(h.deps, h.cfg, first, (p) => {
        if (p === 'after-put') throw new Error('crash');
      }),
    ).rejects.toThrow('crash');
    expect((await h.ledger.get(userId, first.feed, first.id))?.status).toBe('ENQUEUED');
    const calls = h.sim.callLog.length;
    expect(await handleFetch(h.deps, h.cfg, first)).toBe('unchanged');
    expect(await handleFetch(h.deps, h.cfg, first)).toBe('duplicate');
    expect(h.sim.callLog.length - calls).toBe(1);
    const key = `raw/${userId}/${first.feed}/${first.id}.json`;
    expect(h.store.versions.get(key)).toHaveLength(1);
    expect((await h.ledger.get(userId, first.feed, first.id))?.status).toBe('SYNCED');
  });

  it('a lost message is re-enqueued after its lease and stored once', async () => {
    h = await coreHarness({ sim: { activities: 5 } });
    const userId = h.sim.users[0]!.userId;
    await runScheduler(h.deps, h.cfg, userId);
    const lost = h.queue.pending.shift()!;
    while (h.queue.size > 0) {
      const m = h.queue.pending.shift()!;
      h.clock.set(m.due);
      await handleFetch(h.deps, h.cfg, m.body);
    }
    expect((await h.ledger.get(userId, lost.body.feed, lost.body.id))?.status).toBe('ENQUEUED');
    h.clock.advance(h.cfg.leaseMs + 1);
    const run = await runScheduler(h.deps, h.cfg, userId);
    expect(run.enqueued).toBe(1);
    const m = h.queue.pending.shift()!;
    h.clock.set(m.due);
    expect(await handleFetch(h.deps, h.cfg, m.body)).toBe('synced');
    expect((await h.ledger.counts(userId)).SYNCED).toBe(5);
  });

  it('without budget the fetcher re-sends the message delayed to the next slot and makes no call', async () => {
    h = await coreHarness({ sim: { activities: 2 } });
    const userId = h.sim.users[0]!.userId;
    await runScheduler(h.deps, h.cfg, userId);
    const m = h.queue.pending.shift()!;
    for (let i = 0; i < 120; i++) await h.deps.budget.tryAcquire(budgetKey(userId), h.clock.now());
    const calls = h.sim.callLog.length;
    expect(await handleFetch(h.deps, h.cfg, m.body)).toBe('deferred');
    expect(h.sim.callLog.length).toBe(calls);
    const resent = h.queue.pending.at(-1)!;
    expect(resent.body).toMatchObject({ id: m.body.id, deferrals: 1 });
    expect(resent.due - h.clock.now()).toBeGreaterThan(0);
    expect(resent.due - h.clock.now()).toBeLessThanOrEqual(900_000);
  });

  it('a revoked token parks the account after one call and stops all calls', async () => {
    h = await coreHarness({ sim: { activities: 10 } });
    const userId = h.sim.users[0]!.userId;
    await runScheduler(h.deps, h.cfg, userId);
    h.sim.revoke(userId);
    const r = await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    expect(r.outcomes.parked).toBeGreaterThanOrEqual(1);
    expect((await h.accounts.get(userId))?.status).toBe('REVOKED');
    const revokedCalls = h.sim.callLog.filter((c) => c.status === 403).length;
    expect(revokedCalls).toBe(1);
    const after = h.sim.callLog.length;
    await runScheduler(h.deps, h.cfg, userId);
    expect(h.sim.callLog.length).toBe(after);
  });

  it('pages that shift while listing (new activities inserted) lose and duplicate nothing', async () => {
    h = await coreHarness({
      sim: { activities: 300, faults: { insertDuringPaging: 3 } },
      sync: { pageSize: 25 },
    });
    const userId = h.sim.users[0]!.userId;
    const r = await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    expect(r.stopped).toBe('done');
    // New activities created during the backfill are caught by the change log afterwards.
    h.sim.faults.clear();
    h.clock.advance(900_000);
    await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    const ids = h.sim.activityIds(userId);
    expect(ids.length).toBeGreaterThan(300);
    expect(await storedIds(h.store, userId)).toEqual([...ids].sort());
    expect(h.sim.http429()).toBe(0);
  });

  it('5xx bursts and 429 storms end with everything stored; no window over the limit', async () => {
    h = await coreHarness({
      sim: {
        activities: 120,
        faults: { burst5xx: { every: 40, length: 2 }, storm429: { every: 97, length: 1 } },
      },
      retry: { attempts: 3, baseMs: 500, capMs: 5_000, waitForBudget: false, random: () => 0.5 },
    });
    const userId = h.sim.users[0]!.userId;
    const r = await driveLocalSync(h.deps, h.queue, h.cfg, [userId], { random: () => 0.5 });
    expect(r.stopped).toBe('done');
    expect(await storedIds(h.store, userId)).toEqual([...h.sim.activityIds(userId)].sort());
    expect(h.sim.maxCallsInWindow(userId)).toBeLessThanOrEqual(100);
  });
});

describe('change detection after a long outage', () => {
  it('walks the 7-day change log forward in windows and misses nothing', async () => {
    h = await coreHarness({ sim: { activities: 10 } });
    const userId = h.sim.users[0]!.userId;
    await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    // Three weeks without a run; one new activity a week.
    const added: string[] = [];
    for (let w = 0; w < 3; w++) {
      h.clock.advance(7 * 86_400_000);
      added.push(h.sim.mutate.addActivity(userId));
    }
    h.clock.advance(86_400_000);
    const before = h.sim.callLog.length;
    const run = await runScheduler(h.deps, h.cfg, userId);
    const changeLogCalls = h.sim.callLog
      .slice(before)
      .filter((c) => c.path.startsWith('/changeLog')).length;
    expect(changeLogCalls).toBe(4);
    expect(run.discovered).toBe(3);
    await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    for (const id of added) expect(await storedIds(h.store, userId)).toContain(id);
  });
});

describe('photos and comments', () => {
  it('stores every photo and thumbnail beside its activity, without the token and without API budget', async () => {
    h = await coreHarness({ sim: { activities: 40, seed: 4 }, sync: { comments: true } });
    const userId = h.sim.users[0]!.userId;
    await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    const withImages = h.sim
      .activityIds(userId)
      .map((id) => ({
        id,
        images: (
          (h!.sim.document(userId, 'fitnessActivities', id) as { images?: unknown[] }).images ?? []
        ).length,
      }))
      .filter((a) => a.images > 0);
    expect(withImages.length).toBeGreaterThan(0);
    for (const a of withImages) {
      const keys: string[] = [];
      for await (const k of h.store.list(`media/${userId}/fitnessActivities/${a.id}/`))
        keys.push(k);
      expect(keys).toHaveLength(a.images * 2);
    }
    // Image requests are not API calls: the API call log only holds API paths.
    expect(h.sim.callLog.some((c) => c.path.startsWith('/img/'))).toBe(false);
    const withComments = h.sim.activityIds(userId).filter((id) => {
      const d = h!.sim.document(userId, 'fitnessActivities', id) as {
        comments?: string;
        is_live?: boolean;
      };
      // Live activities get their thread once they are finished.
      return (d.comments ?? '') !== '' && !d.is_live;
    });
    let threads = 0;
    for await (const k of h.store.list(`raw/${userId}/fitnessActivities/`))
      if (k.endsWith('.comments.json')) threads++;
    expect(threads).toBe(withComments.length);
    expect(h.sim.http429()).toBe(0);
  });

  it('refuses image URLs on other origins (no SSRF from payloads)', async () => {
    const { checkMediaUrl } = await import('../../functions/core/healthgraph/media.ts');
    expect(() => checkMediaUrl('http://169.254.169.254/latest/meta-data', {})).toThrow();
    expect(() => checkMediaUrl('https://user:pw@cdn.example/x.jpg', {})).toThrow();
    expect(() => checkMediaUrl('file:///etc/passwd', {})).toThrow();
    expect(checkMediaUrl('https://cdn.example/x.jpg', {}).host).toBe('cdn.example');
  });
});

describe('every feed', () => {
  it('backs up every feed /user lists, each under its own prefix, plus profile, settings and records', async () => {
    h = await coreHarness({
      sim: { activities: 15, seed: 12 },
      sync: { feeds: [...FEED_NAMES], docs: true },
    });
    const userId = h.sim.users[0]!.userId;
    const r = await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    expect(r.stopped).toBe('done');
    for (const feed of FEED_NAMES) {
      const ids = h.sim.activityIds(userId, feed);
      const stored: string[] = [];
      for await (const k of h.store.list(`raw/${userId}/${feed}/`)) {
        const m = /\/(\d+)\.json$/.exec(k);
        if (m) stored.push(m[1]!);
      }
      expect(stored.sort(), feed).toEqual([...ids].sort());
    }
    for (const doc of ['profile', 'settings', 'records']) {
      expect(await h.store.get(`raw/${userId}/${doc}/latest.json`), doc).toBeDefined();
    }
    expect(h.sim.http429()).toBe(0);
  });
});

describe('bad payloads (B9, B11)', () => {
  it.each(['malformed', 'wrong-type', 'mismatch'] as const)(
    'B9: a %s document is not stored, is FAILED with its reason and costs no further calls',
    async (kind) => {
      h = await coreHarness({ sim: { activities: 3, seed: 21 } });
      const userId = h.sim.users[0]!.userId;
      const [victim] = h.sim.activityIds(userId);
      h.sim.faults.push({ kind, match: `/fitnessActivities/${victim}`, times: 1 });
      await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
      const item = await h.ledger.get(userId, 'fitnessActivities', victim!);
      expect(item?.status).toBe('FAILED');
      expect(item?.lastError).toMatch(/^Invalid: /);
      expect(await h.store.get(`raw/${userId}/fitnessActivities/${victim}.json`)).toBeUndefined();
      const calls = h.sim.callLog.filter((c) => c.path === `/fitnessActivities/${victim}`).length;
      h.clock.advance(900_000);
      await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
      expect(h.sim.callLog.filter((c) => c.path === `/fitnessActivities/${victim}`).length).toBe(
        calls,
      );
      // `sync --retry-failed` re-opens it: fetched again (and stored, the fault is gone).
      expect(await reopenFailed(h.ledger, userId, h.clock.now())).toBe(1);
      await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
      expect((await h.ledger.get(userId, 'fitnessActivities', victim!))?.status).toBe('SYNCED');
      expect(await h.store.get(`raw/${userId}/fitnessActivities/${victim}.json`)).toBeDefined();
    },
  );

  it('B11: an HTML maintenance page is transient: retried, then stored', async () => {
    h = await coreHarness({ sim: { activities: 3, seed: 22 } });
    const userId = h.sim.users[0]!.userId;
    const [victim] = h.sim.activityIds(userId);
    h.sim.faults.push({ kind: 'html', match: `/fitnessActivities/${victim}`, times: 2 });
    const r = await driveLocalSync(h.deps, h.queue, h.cfg, [userId], { random: () => 0.5 });
    expect(r.outcomes.error).toBe(2);
    expect((await h.ledger.get(userId, 'fitnessActivities', victim!))?.status).toBe('SYNCED');
  });

  it('F12: a poison item gives up after five deliveries with its reason recorded, and the next sync tries again', async () => {
    h = await coreHarness({ sim: { activities: 2, seed: 23 } });
    const userId = h.sim.users[0]!.userId;
    const [victim] = h.sim.activityIds(userId);
    h.sim.faults.push({
      kind: 'status',
      status: 500,
      match: `/fitnessActivities/${victim}`,
      times: 5,
    });
    const r = await driveLocalSync(h.deps, h.queue, h.cfg, [userId], { random: () => 0.5 });
    expect(r.outcomes.error).toBe(5);
    const item = await h.ledger.get(userId, 'fitnessActivities', victim!);
    expect(item?.status).toBe('PENDING');
    expect(item?.lastError).toMatch(/Transient: server error \(500\)/);
    expect(r.stopped).toBe('done');
    h.clock.advance(86_400_000);
    await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    expect((await h.ledger.get(userId, 'fitnessActivities', victim!))?.status).toBe('SYNCED');
  });
});
