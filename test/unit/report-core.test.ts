/**
 * The report's pure parts: splits and series from a known activity (pauses excluded from
 * moving time, shown as gaps), nothing invented for absent streams, track simplification,
 * script-safe JSON, the CSP, the overview numbers, and where route names and notes come from.
 */
import { inflateSync, strFromU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../functions/adapters/memory/index.ts';
import { normalizeActivity } from '../../functions/core/export/activity.ts';
import { buildIndex, writeDerived } from '../../functions/core/export/derive.ts';
import { assignRegions, highlightsOf, totalsOf } from '../../functions/core/report/aggregate.ts';
import { buildReport, reportKey } from '../../functions/core/report/build.ts';
import {
  contentSecurityPolicy,
  jsonForScript,
  reportHtml,
  tileOrigin,
} from '../../functions/core/report/html.ts';
import { trackOf } from '../../functions/core/report/streams.ts';
import { activityDetail, MILE, ROUTE_POINTS, routeOf } from '../../functions/core/report/track.ts';
import type {
  ActivityDetail,
  ReportActivity,
  ReportData,
} from '../../functions/core/report/types.ts';
import {
  contractActivity,
  longActivity,
  manualActivity,
  pausedActivity,
  recordedShapeActivity,
} from '../fixtures/activities.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * 4 m/s due north, a point every 10 s; paused from 300 s to 400 s; ends at 700 s.
 * Moving 600 s, 2,400 m: km splits 250 s, 250 s, rest 400 m in 100 s.
 */
function pausedRun(extra: { hr?: boolean; alt?: boolean } = {}) {
  const metresPerDegree = 111_195;
  const path: Record<string, unknown>[] = [];
  const distance: Record<string, unknown>[] = [];
  const heart: Record<string, unknown>[] = [];
  const movingDist = (t: number) => (t <= 300 ? 4 * t : t < 400 ? 1200 : 1200 + 4 * (t - 400));
  for (let t = 0; t <= 700; t += 10) {
    const type =
      t === 0 ? 'start' : t === 300 ? 'pause' : t === 400 ? 'resume' : t === 700 ? 'end' : 'gps';
    if (t > 300 && t < 400) continue;
    path.push({
      timestamp: t,
      latitude: 52 + movingDist(t) / metresPerDegree,
      longitude: 4.9,
      ...(extra.alt ? { altitude: 10 + t / 100 } : {}),
      type,
    });
    distance.push({ timestamp: t, distance: movingDist(t) });
    if (extra.hr) heart.push({ timestamp: t, heart_rate: 120 + t / 10 });
  }
  return {
    uri: '/fitnessActivities/77',
    type: 'Running',
    start_time: 'Sat, 1 Jun 2024 07:00:00',
    utc_offset: 2,
    total_distance: 2400,
    duration: 600,
    notes: 'raw note',
    path,
    distance,
    heart_rate: heart,
  };
}

describe('activity detail', () => {
  it('splits per km and mile count moving time only; the pause is a gap in every series', () => {
    const d = activityDetail(normalizeActivity(pausedRun()))!;
    expect(d.splits.km).toEqual([250, 250]);
    expect(d.splits.kmRest).toEqual([400, 100]);
    expect(d.splits.mi).toEqual([Math.round(MILE / 4)]);
    expect(d.splits.miRest).toEqual([Math.round(2400 - MILE), Math.round(600 - MILE / 4)]);
    expect(d.pauses).toEqual([[300, 400]]);
    expect(d.series.t.filter((t) => t === null)).toHaveLength(1);
    const gap = d.series.t.indexOf(null);
    expect(d.series.v[gap]).toBeNull();
    expect(d.series.t[gap - 1]).toBe(300);
    expect(d.series.t[gap + 1]).toBe(400);
    // 4 m/s everywhere it moves (cm/s).
    expect(new Set(d.series.v.filter((v) => v !== null))).toEqual(new Set([400]));
    expect(d.series.d.at(-1)).toBe(2400);
  });

  it('absent heart rate and elevation stay absent; present ones are sampled', () => {
    const bare = activityDetail(normalizeActivity(pausedRun()))!;
    expect(bare.series.hr).toBeUndefined();
    expect(bare.series.alt).toBeUndefined();
    const full = activityDetail(normalizeActivity(pausedRun({ hr: true, alt: true })))!;
    expect(full.series.hr?.[0]).toBe(120);
    expect(full.series.hr?.at(-1)).toBe(190);
    expect(full.series.alt?.[0]).toBe(100); // decimetres
  });

  it('no path and no samples: no detail block at all', () => {
    const manual = normalizeActivity({
      uri: '/fitnessActivities/5',
      type: 'Yoga',
      start_time: 'Mon, 3 Jun 2024 18:00:00',
      duration: 3600,
    });
    expect(activityDetail(manual)).toBeUndefined();
  });

  it('a 3,000-point track is simplified (simplify-js) to the display budget, ends kept', () => {
    const path = Array.from({ length: 3000 }, (_, i) => ({
      timestamp: i,
      latitude: 40 + i * 1e-5 + Math.sin(i / 7) * 2e-4,
      longitude: -74 + Math.cos(i / 11) * 3e-4 + i * 2e-6,
      type: i === 0 ? 'start' : i === 2999 ? 'end' : 'gps',
    }));
    const act = normalizeActivity({
      uri: '/fitnessActivities/6',
      type: 'Running',
      start_time: 'Mon, 3 Jun 2024 18:00:00',
      path,
    });
    const [seg] = routeOf(act.segments, 3, ROUTE_POINTS);
    expect(seg!.length / 2).toBeLessThanOrEqual(ROUTE_POINTS);
    expect(seg!.length / 2).toBeGreaterThan(20);
    expect([seg![0], seg![1]]).toEqual([4_000_000, -7_400_000 + Math.round(3e-4 * 1e5)]);
    const sum = (k: number) => seg!.filter((_, i) => i % 2 === k).reduce((a, b) => a + b, 0);
    const last = path.at(-1)!;
    expect(sum(0)).toBe(Math.round(last.latitude * 1e5));
    expect(sum(1)).toBe(Math.round(last.longitude * 1e5));
  });
});

describe('report streams', () => {
  it('trackOf reads the same segments, heart rate and distance as normalizeActivity', () => {
    const raws = [
      contractActivity(),
      pausedActivity(),
      recordedShapeActivity(),
      manualActivity(),
      longActivity(2000),
      pausedRun({ hr: true, alt: true }),
    ];
    for (const raw of raws) {
      const n = normalizeActivity(raw);
      expect(trackOf(raw)).toEqual({
        segments: n.segments,
        heartRate: n.heartRate,
        distance: n.distance,
      });
    }
  });
});

describe('HTML assembly', () => {
  it('JSON in a script block cannot close it, and parses back to the same value', () => {
    const hostile = { notes: '</script><script>alert(1)</script><!-- & \u2028 "q"' };
    const s = jsonForScript(hostile);
    expect(s).not.toMatch(/[<>&]/);
    expect(JSON.parse(s)).toEqual(hostile);
  });

  it('the CSP allows only the inline script and style by hash, and tiles only when asked', () => {
    const csp = contentSecurityPolicy('console.log(1)', 'body{}');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]{44}'(;|$)/);
    expect(csp).toContain('img-src data:;');
    expect(csp).not.toContain('http');
    expect(contentSecurityPolicy('x', 'y', 'https://t.example/{z}/{x}/{y}.png')).toContain(
      'img-src data: https://t.example;',
    );
    expect(tileOrigin('javascript:alert(1)//{z}{x}{y}')).toBeUndefined();
  });

  it('refuses a page bundle that would close its own script element', () => {
    const data = { userId: '1', activities: [] } as unknown as ReportData;
    expect(() => reportHtml({ js: 'a="</script>"', css: '' }, data, [], '')).toThrow(/closing tag/);
  });
});

const row = (id: string, local: string, type: string, distance: number, moving: number) =>
  ({
    id,
    local,
    type,
    distance,
    moving,
    elapsed: moving,
    files: { raw: '' },
    detail: false,
    source: 'api',
  }) as ReportActivity;

describe('overview numbers', () => {
  it('totals per year, month and type use the local date; highlights pick the best', () => {
    const acts = [
      row('1', '2023-12-31T23:30:00', 'Running', 10_000, 3000),
      row('2', '2024-01-01T00:10:00', 'Running', 5_000, 1200),
      row('3', '2024-01-01T18:00:00', 'Cycling', 30_000, 3600),
      row('4', '2024-02-10T08:00:00', 'Running', 500, 60), // too short to be "fastest"
    ];
    acts[2]!.climb = 250;
    const t = totalsOf(acts);
    expect(t.totals.all).toEqual({ count: 4, distance: 45_500, moving: 7860, climb: 250 });
    expect(t.totals.byYear['2023']).toEqual({ count: 1, distance: 10_000, moving: 3000, climb: 0 });
    expect(t.totals.byMonth['2024-01']?.count).toBe(2);
    expect(t.totals.byType.Running?.distance).toBe(15_500);
    expect(t.dayCounts['2024-01-01']).toBe(2);
    expect(t.days['2024-01-01']).toBe(35_000);
    const hl = highlightsOf(acts);
    expect(hl.find((h) => h.label === 'Longest distance')?.id).toBe('3');
    expect(hl.find((h) => h.label === 'Fastest running')).toMatchObject({
      id: '2',
      value: 5000 / 1200,
    });
    expect(hl.find((h) => h.label === 'Most climb')?.id).toBe('3');
  });

  it('regions group routes by ~100 km cells, busiest first', () => {
    const acts = ['1', '2', '3'].map((id) => row(id, '2024-01-01T08:00:00', 'Running', 1, 1));
    const regions = assignRegions(
      acts,
      new Map([
        ['1', { lat: 40.7, lon: -74.0 }],
        ['2', { lat: 52.37, lon: 4.9 }],
        ['3', { lat: 52.1, lon: 4.2 }],
      ]),
    );
    expect(regions.map((r) => r.count)).toEqual([2, 1]);
    expect(acts.map((a) => a.region)).toEqual([1, 0, 0]);
  });
});

/** The data block and one detail block of a built report. */
function parseReport(html: string) {
  const data = JSON.parse(
    /<script type="application\/json" id="rk-data">([^<]*)<\/script>/.exec(html)![1]!,
  ) as ReportData;
  const detail = (id: string) => {
    const b64 = new RegExp(`id="d${id}">([A-Za-z0-9+/=]*)<`).exec(html)?.[1];
    return b64 === undefined
      ? undefined
      : (JSON.parse(strFromU8(inflateSync(Buffer.from(b64, 'base64')))) as ActivityDetail);
  };
  return { data, detail };
}

describe('buildReport', () => {
  it('reads notes and route names from the index row when it has them, else from raw', async () => {
    const store = new MemoryObjectStore();
    const user = '42';
    const raw = pausedRun();
    await store.put(
      `raw/${user}/fitnessActivities/77.json`,
      enc.encode(JSON.stringify(raw)),
      'application/json',
    );
    await writeDerived(store, user, raw);
    const zipRaw = {
      ...pausedRun(),
      uri: '/fitnessActivities/90000000000000000001',
      start_time: 'Sun, 2 Jun 2024 07:00:00',
      notes: undefined,
      source: 'RunKeeper export',
      rk_export: { route_name: 'Canal loop' },
    };
    await store.put(
      `raw/${user}/fitnessActivities/90000000000000000001.json`,
      enc.encode(JSON.stringify(zipRaw)),
      'application/json',
    );
    await writeDerived(store, user, zipRaw);
    await buildIndex(store, user);
    const first = parseReport(dec.decode(await html(store, user)));
    const byId = (id: string) => first.data.activities.find((a) => a.id === id)!;
    expect(byId('77').notes).toBe('raw note');
    expect(byId('77').name).toBeUndefined();
    expect(byId('90000000000000000001').name).toBe('Canal loop');
    expect(byId('90000000000000000001').notes).toBeUndefined();
    expect(first.detail('77')?.splits.km).toEqual([250, 250]);

    // Index rows that carry `name` and `notes` (newer index) win over the raw document.
    const ndjsonKey = `index/${user}/activities.ndjson`;
    const rows = dec
      .decode(await store.get(ndjsonKey))
      .trim()
      .split('\n')
      .map((l) => ({ ...JSON.parse(l), name: 'Row name', notes: 'Row notes' }));
    await store.put(
      ndjsonKey,
      enc.encode(rows.map((r) => JSON.stringify(r)).join('\n')),
      'application/x-ndjson',
    );
    const second = parseReport(dec.decode(await html(store, user)));
    expect(second.data.activities.map((a) => [a.name, a.notes])).toEqual([
      ['Row name', 'Row notes'],
      ['Row name', 'Row notes'],
    ]);
  });
});

async function html(store: MemoryObjectStore, user: string): Promise<Uint8Array> {
  const r = await buildReport(store, user, { now: '2024-06-03T00:00:00.000Z' });
  expect(r.key).toBe(reportKey(user));
  return (await store.get(r.key))!;
}
