import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MemoryBudgetStore } from '../../functions/core/budget.ts';
import { normalizeActivity } from '../../functions/core/export/activity.ts';
import { renderFit } from '../../functions/core/export/fit.ts';
import {
  duplicateOf,
  externalId,
  manualEntry,
  stravaName,
  stravaSport,
  uploadFile,
} from '../../functions/core/strava/activity.ts';
import {
  DAY_MS,
  MultiWindowBudget,
  nextBoundary,
  parseRateHeaders,
  pushEtaMs,
  QUARTER_MS,
} from '../../functions/core/strava/limits.ts';
import { activityAt, contractActivity, manualActivity } from '../fixtures/activities.ts';

const T0 = Date.UTC(2026, 2, 2, 8, 7, 30);

describe('MultiWindowBudget (several windows over the existing exact sliding window)', () => {
  const limits = { overall: [10, 25] as [number, number], read: [5, 12] as [number, number] };

  it('a read needs room in all four windows, an upload only in the two overall ones', async () => {
    const b = new MultiWindowBudget(new MemoryBudgetStore(), 'app', limits);
    // read15 capacity = 5 − 2 = 3
    for (let i = 0; i < 3; i++) expect((await b.tryAcquire('read', T0 + i)).granted).toBe(true);
    const denied = await b.tryAcquire('read', T0 + 10);
    expect(denied.granted).toBe(false);
    // Uploads still go: overall15 capacity 8, 3 used.
    for (let i = 0; i < 5; i++)
      expect((await b.tryAcquire('upload', T0 + 20 + i)).granted).toBe(true);
    const full = await b.tryAcquire('upload', T0 + 30);
    expect(full).toEqual({ granted: false, waitUntil: T0 + QUARTER_MS + 1_000 });
  });

  it('the daily window is a wall: after its capacity, the next slot is a day after the first call', async () => {
    const b = new MultiWindowBudget(new MemoryBudgetStore(), 'app', limits);
    let t = T0;
    let granted = 0;
    for (let i = 0; i < 200; i++) {
      const g = await b.tryAcquire('upload', t);
      if (g.granted) granted++;
      else if (g.waitUntil - t > QUARTER_MS + 1_000) {
        expect(g.waitUntil).toBe(T0 + DAY_MS + 1_000);
        break;
      } else t = g.waitUntil;
    }
    expect(granted).toBe(25 - 1); // daily capacity: limit − margin (1 %, at least 1)
  });

  it('obeys headers: a window the server reports as full is blocked to its fixed boundary; foreign usage is counted; a lower limit lowers ours', async () => {
    const store = new MemoryBudgetStore();
    const b = new MultiWindowBudget(store, 'app', { overall: [200, 2000], read: [100, 1000] });
    const h = new Headers({
      'X-RateLimit-Limit': '200,2000',
      'X-RateLimit-Usage': '40,300',
      'X-ReadRateLimit-Limit': '100,1000',
      'X-ReadRateLimit-Usage': '98,200',
    });
    await b.observe(parseRateHeaders(h), T0);
    const g = await b.tryAcquire('read', T0 + 1);
    expect(g).toEqual({ granted: false, waitUntil: nextBoundary(T0, QUARTER_MS) + 1_000 });
    expect((await b.tryAcquire('upload', T0 + 2)).granted).toBe(true);
    const views = await b.inspect(T0 + 3);
    expect(views.find((v) => v.name === 'overall15')?.used).toBe(41);
    const low = new MultiWindowBudget(new MemoryBudgetStore(), 'x', {
      overall: [200, 2000],
      read: [100, 1000],
    });
    await low.observe(
      parseRateHeaders(new Headers({ 'X-RateLimit-Limit': '50,500', 'X-RateLimit-Usage': '1,1' })),
      T0,
    );
    const v = await low.inspect(T0);
    expect(v.find((x) => x.name === 'overall15')?.limit).toBe(50);
    expect(v.find((x) => x.name === 'overallDay')?.limit).toBe(500);
  });

  it('a 429 blocks the full windows until their boundary (midnight UTC for the daily one)', async () => {
    const b = new MultiWindowBudget(new MemoryBudgetStore(), 'app', {
      overall: [200, 2000],
      read: [100, 1000],
    });
    await b.penalize(
      'read',
      parseRateHeaders(
        new Headers({ 'X-ReadRateLimit-Limit': '100,1000', 'X-ReadRateLimit-Usage': '40,1000' }),
      ),
      T0,
    );
    const g = await b.tryAcquire('read', T0 + 5);
    expect(g).toEqual({ granted: false, waitUntil: Date.UTC(2026, 2, 3) });
  });

  it('ETA: a 5,000-activity push at 1 upload + 2 reads each is bound by the daily read limit (≈ 10 days)', () => {
    const b = new MultiWindowBudget(new MemoryBudgetStore(), 'app');
    const eta = pushEtaMs(5000, { upload: 1, read: 2 }, b);
    expect(eta / DAY_MS).toBe(Math.floor(10_000 / 990));
  });
});

describe('what an activity becomes on Strava', () => {
  it('a GPS activity with a known UTC start is a gzipped FIT file that decodes to the same start', () => {
    const act = normalizeActivity(contractActivity());
    const f = uploadFile(act, 'fit', (a) => renderFit(a));
    expect(f?.dataType).toBe('fit.gz');
    const fit = gunzipSync(f!.bytes);
    expect(fit.toString('latin1', 8, 12)).toBe('.FIT');
    expect(uploadFile(act, 'gpx')?.dataType).toBe('gpx.gz');
    expect(gunzipSync(uploadFile(act, 'tcx')!.bytes).toString('utf8')).toContain(
      '<TrainingCenterDatabase',
    );
  });

  it('without a UTC start no file is made (no invented time): it becomes a manual entry at the local start', () => {
    const act = {
      ...normalizeActivity(activityAt('Sat, 1 Jun 2024 07:00:00', 2, 52.37, 4.89)),
      startMs: undefined,
    };
    expect(uploadFile(act, 'fit', (a) => renderFit(a))).toBeUndefined();
    const m = manualEntry(act, {});
    expect('form' in m && m.form.get('start_date_local')).toBe('2024-06-01T07:00:00Z');
  });

  it('a manual entry sends what the archive has and nothing it lacks', () => {
    const raw = manualActivity();
    const act = normalizeActivity(raw);
    const m = manualEntry(act, raw);
    if (!('form' in m)) throw new Error(m.reason);
    expect(Object.fromEntries(m.form)).toEqual({
      name: 'Walking 2024-11-04',
      sport_type: 'Walk',
      start_date_local: '2024-11-04T18:00:00Z',
      elapsed_time: '3000',
      distance: '5000',
      description: 'Gym',
      trainer: '1',
    });
    const bare = { ...raw, total_distance: 0, notes: undefined, equipment: 'None' };
    const b = manualEntry(normalizeActivity(bare), bare);
    expect('form' in b && [...b.form.keys()].sort()).toEqual([
      'elapsed_time',
      'name',
      'sport_type',
      'start_date_local',
    ]);
    const none = { ...raw, duration: 0 };
    expect(manualEntry(normalizeActivity(none), none)).toEqual({
      reason: expect.stringContaining('no duration'),
    });
  });

  it('names come from the route name of the export ZIP, else type and local date; sport types map', () => {
    const act = normalizeActivity(contractActivity());
    expect(stravaName(act, { rk_export: { route_name: ' Canal loop ' } })).toBe('Canal loop');
    expect(stravaName(act, {})).toMatch(/^Running \d{4}-\d{2}-\d{2}$/);
    expect(stravaSport('Mountain Biking')).toEqual({
      sportType: 'MountainBikeRide',
      trainer: false,
    });
    expect(stravaSport('Running', 'Treadmill')).toEqual({ sportType: 'Run', trainer: true });
    expect(stravaSport('Zumba')).toEqual({ sportType: 'Workout', trainer: false });
  });

  it("reads Strava's duplicate answer in its plain and linked forms", () => {
    expect(duplicateOf('a.fit duplicate of activity 123456')).toBe('123456');
    expect(
      duplicateOf("x.gpx duplicate of <a href='/activities/987' target='_blank'>987</a>"),
    ).toBe('987');
    expect(duplicateOf('Improperly formatted data.')).toBeUndefined();
    expect(externalId('42', '900', 'fit.gz')).toBe('rk-sync-42-900.fit');
  });
});

describe('the Strava simulator is an independent oracle', () => {
  it('imports nothing from functions/ or simulator/', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = new URL('../../strava-simulator/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) {
      const imports = [...readFileSync(new URL(f, dir), 'utf8').matchAll(/from '([^']+)'/g)].map(
        (m) => m[1]!,
      );
      expect(
        imports.filter((i) => i.startsWith('.') && !i.startsWith('./')),
        f,
      ).toEqual([]);
    }
  });
});
