/**
 * The pusher against a Strava simulator that says no: expiring tokens with rotating refresh
 * tokens, 5xx, revoked access, a "duplicate of activity N" answer after a crash, an activity
 * already on Strava from a watch, usage by another installation of the same app, and the
 * daily window as a wall. Virtual time throughout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type StravaHarness, stravaHarness } from '../helpers/strava-harness.ts';

let h: StravaHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const once = (x: StravaHarness) => [...x.sim.countByExternalId().values()].every((n) => n === 1);

describe('Strava push faults', { timeout: 180_000 }, () => {
  it('refreshes expiring tokens and stores each rotated refresh token (the old one is dead)', async () => {
    h = await stravaHarness({ activities: 120, sim: { tokenTtlMs: 65 * 60_000 } });
    const s = await h.push();
    expect(s.stopped).toBe('done');
    expect(h.sim.refreshes()).toBeGreaterThanOrEqual(2);
    expect(h.tokens.puts).toBe(1 + h.sim.refreshes());
    expect(h.sim.activities()).toHaveLength(120);
    expect(h.logs.join('\n')).not.toContain(h.tokens.current!.refreshToken);
  });

  it('5xx answers are retried (each retry paced); nothing lost or doubled', async () => {
    h = await stravaHarness({ activities: 60 });
    h.sim.faults.fail5xx = 3;
    const s = await h.push();
    expect(s).toMatchObject({ stopped: 'done', failed: 0, remaining: 0 });
    expect(h.sim.activities()).toHaveLength(60);
    expect(once(h)).toBe(true);
  });

  it('Strava down for longer than the retries: the run stops as unavailable, the next run completes exactly once', async () => {
    h = await stravaHarness({ activities: 30 });
    const first = await h.push({ limit: 5 });
    expect(first.stopped).toBe('done');
    h.sim.faults.fail5xx = 6; // more than one call's 4 attempts
    const down = await h.push();
    expect(down.stopped).toBe('unavailable');
    expect(down.remaining).toBeGreaterThan(0);
    const s = await h.push();
    expect(s).toMatchObject({ stopped: 'done', remaining: 0, failed: 0 });
    expect(h.sim.activities()).toHaveLength(30);
    expect(once(h)).toBe(true);
  });

  it('revoked access stops the push (nothing marked done), and after linking again it completes', async () => {
    h = await stravaHarness({ activities: 30 });
    h.sim.faults.revoked = true;
    const s = await h.push();
    expect(s.stopped).toBe('revoked');
    expect(s.uploaded + s.manual).toBe(0);
    expect(h.sim.activities()).toHaveLength(0);
    const { linkStrava } = await import('../helpers/strava-harness.ts');
    await linkStrava(h.sim, h.tokens);
    const again = await h.push();
    expect(again).toMatchObject({ stopped: 'done', remaining: 0 });
    expect(h.sim.activities()).toHaveLength(30);
  });

  it('a crash between POST /uploads and the ledger write: the repeat gets "duplicate of activity N", recorded as done', async () => {
    h = await stravaHarness({ activities: 10, sim: { processingMs: 3_600_000 } });
    const ac = new AbortController();
    await h.push({ limit: 1, signal: ac.signal, onProgress: () => ac.abort(new Error('crash')) });
    const [rec] = await h.ledger.list('strava', h.userId);
    expect(rec?.state).toBe('PROCESSING');
    // The crash: the upload id never reached the ledger.
    await h.ledger.save({ ...rec!, state: 'UPLOADING', uploadId: undefined });
    const s = await h.push({ limit: 1 });
    expect(s.duplicates).toBe(1);
    const after = await h.ledger.get('strava', h.userId, rec!.id);
    expect(after).toMatchObject({ state: 'DONE', how: 'duplicate' });
    h.clock.advance(3_600_000);
    expect(h.sim.activities()).toHaveLength(1);
    expect(after!.stravaId).toBe(String(h.sim.activities()[0]!.id));
    // The mute could not happen while Strava was still processing the first upload: done now.
    await h.push({ limit: 1 });
    expect(await h.ledger.get('strava', h.userId, rec!.id)).toMatchObject({ muted: true });
    expect(h.sim.activities()[0]!.hide_from_home).toBe(true);
  });

  it('an activity already on Strava (a watch) is skipped with a note, matched by start time and distance', async () => {
    const probe = await stravaHarness({ activities: 20 });
    const { planPush } = await import('../../functions/core/strava/plan.ts');
    const plan = await planPush(probe.store, probe.userId, new Set());
    await probe.close();
    const target = plan.candidates.find((c) => c.row.utcStart)!;
    h = await stravaHarness({
      activities: 20,
      sim: {
        existing: [
          {
            id: 77,
            name: 'Morning Run (watch)',
            sport_type: 'Run',
            start_date: new Date(Date.parse(target.row.utcStart!) + 40_000).toISOString(),
            start_date_local: `${target.row.localStart}Z`,
            elapsed_time: target.row.durationSeconds,
            distance: target.row.distanceMeters * 1.01,
            external_id: 'garmin_push_123',
            manual: false,
          },
        ],
      },
    });
    const s = await h.push();
    expect(s.skippedExisting).toBe(1);
    expect(await h.ledger.get('strava', h.userId, target.id)).toMatchObject({
      state: 'SKIPPED',
      stravaId: '77',
      note: expect.stringContaining('already on Strava as activity 77'),
    });
    expect(h.sim.activities()).toHaveLength(20);
    expect(h.sim.activities().find((a) => a.id === 77)?.hide_from_home).toBeUndefined();
  });

  it('obeys the limit headers: usage by another installation of the same app is counted, 0 × 429', async () => {
    h = await stravaHarness({ activities: 40 });
    // Another installation (same application) has already spent 95 of the 100 reads this quarter hour.
    for (let i = 0; i < 95; i++) {
      const r = await fetch(`${h.sim.apiBaseUrl}/athlete/activities?per_page=1`, {
        headers: { authorization: `Bearer ${h.tokens.current!.accessToken}` },
      });
      await r.text();
    }
    const s = await h.push();
    expect(s).toMatchObject({ stopped: 'done', remaining: 0 });
    expect(h.sim.http429()).toBe(0);
    expect(h.sim.peakUsage().read15).toBeLessThanOrEqual(100);
  });

  it('the daily window is a wall too: a push bigger than a day spreads over days with 0 × 429', async () => {
    const limits = {
      overall: [200, 300] as [number, number],
      read: [100, 150] as [number, number],
    };
    h = await stravaHarness({ activities: 150, sim: { limits } });
    const t0 = h.clock.now();
    const s = await h.push({ limits });
    expect(s).toMatchObject({ stopped: 'done', remaining: 0, failed: 0 });
    expect(h.sim.http429()).toBe(0);
    const peak = h.sim.peakUsage();
    expect(peak.readDay).toBeLessThanOrEqual(150);
    expect(peak.overallDay).toBeLessThanOrEqual(300);
    expect(h.clock.now() - t0).toBeGreaterThan(86_400_000);
    expect(h.sim.activities()).toHaveLength(150);
  });
});
