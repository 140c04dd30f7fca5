/** FIT export: encoded with Garmin's SDK, decoded back with its Decoder and checked field by field. */
import { join } from 'node:path';
import { Decoder, type FitMessages, Stream } from '@garmin/fitsdk';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { normalizeActivity } from '../../functions/core/export/activity.ts';
import { fitSport, renderFit, semicircles } from '../../functions/core/export/fit.ts';
import { renderGpx } from '../../functions/core/export/gpx.ts';
import {
  contractActivity,
  longActivity,
  manualActivity,
  pausedActivity,
} from '../fixtures/activities.ts';

function decode(bytes: Uint8Array): FitMessages {
  const stream = Stream.fromByteArray(Array.from(bytes));
  expect(Decoder.isFIT(stream)).toBe(true);
  const decoder = new Decoder(stream);
  expect(decoder.checkIntegrity()).toBe(true);
  const { messages, errors } = decoder.read();
  expect(errors).toEqual([]);
  return messages;
}

const ms = (d: unknown) => (d instanceof Date ? d.getTime() : Number.NaN);

/** The GPX heart rate per trkpt (undefined where the GPX has none). */
function gpxHeartRates(gpx: string): (number | undefined)[] {
  return [...gpx.matchAll(/<trkpt[\s\S]*?<\/trkpt>/g)].map((m) => {
    const hr = /<gpxtpx:hr>(\d+)<\/gpxtpx:hr>/.exec(m[0]);
    return hr ? Number(hr[1]) : undefined;
  });
}

describe('renderFit', () => {
  it('contract activity: file_id, one record per point with UTC times, position, HR, distance', () => {
    const raw = contractActivity();
    const act = normalizeActivity(raw);
    const m = decode(renderFit(raw)!);
    expect(m.fileIdMesgs).toEqual([
      expect.objectContaining({ type: 'activity', manufacturer: 'development' }),
    ]);
    expect(ms(m.fileIdMesgs?.[0]?.timeCreated)).toBe(act.startMs);
    const recs = m.recordMesgs ?? [];
    expect(recs).toHaveLength(act.path.length);
    expect(recs.map((r) => ms(r.timestamp))).toEqual(
      act.path.map((p) => act.startMs! + p.t * 1000),
    );
    expect(recs.map((r) => r.positionLat)).toEqual(act.path.map((p) => semicircles(p.lat)));
    expect(recs.map((r) => r.positionLong)).toEqual(act.path.map((p) => semicircles(p.lon)));
    // FIT altitude has a 0.2 m resolution (scale 5).
    recs.forEach((r, i) => {
      expect(Math.abs((r.altitude ?? 0) - act.path[i]!.alt!)).toBeLessThanOrEqual(0.1 + 1e-9);
    });
    expect(recs.map((r) => r.distance)).toEqual([0, 83.4, 166.8, 250.2]);
    expect(recs.map((r) => r.heartRate)).toEqual(gpxHeartRates(renderGpx(raw)!));
    expect(recs.map((r) => r.heartRate)).toEqual([118, 139, 151, 156]);
    // Semicircles round-trip to the degrees within 1e-7.
    expect(((recs[1]?.positionLat ?? 0) * 180) / 2 ** 31).toBeCloseTo(52.37075, 7);

    expect(m.lapMesgs).toHaveLength(1);
    const [session] = m.sessionMesgs ?? [];
    expect(session).toMatchObject({
      sport: 'running',
      totalTimerTime: 90,
      totalElapsedTime: 90,
      totalDistance: 250.2,
      totalCalories: 18,
      avgHeartRate: 141,
      maxHeartRate: 156,
      numLaps: 1,
    });
    expect(ms(session?.startTime)).toBe(act.startMs);
    const [activity] = m.activityMesgs ?? [];
    expect(activity).toMatchObject({ numSessions: 1, totalTimerTime: 90, type: 'manual' });
    // utc_offset +1 h: local_timestamp is the end time shifted by one hour (FIT epoch seconds).
    expect(activity?.localTimestamp).toBe(
      (ms(activity?.timestamp) - Date.UTC(1989, 11, 31)) / 1000 + 3600,
    );
  });

  it('paused ride: records = GPX points, HR as in GPX, one lap per segment, timer stop/start at pauses', () => {
    const raw = pausedActivity();
    const act = normalizeActivity(raw);
    const m = decode(renderFit(raw)!);
    const points = act.segments.flatMap((s) => s.points);
    const recs = m.recordMesgs ?? [];
    expect(recs).toHaveLength(points.length);
    expect(recs).toHaveLength(gpxHeartRates(renderGpx(raw)!).length);
    expect(recs.map((r) => ms(r.timestamp))).toEqual(points.map((p) => act.startMs! + p.t * 1000));
    expect(recs.map((r) => r.heartRate)).toEqual(gpxHeartRates(renderGpx(raw)!));
    expect(recs.map((r) => r.altitude)).toEqual(points.map(() => 10));

    const events = (m.eventMesgs ?? []).map((e) => [
      e.event,
      e.eventType,
      (ms(e.timestamp) - act.startMs!) / 1000,
    ]);
    expect(events).toEqual([
      ['timer', 'start', 0],
      ['timer', 'stopAll', 100],
      ['timer', 'start', 160],
      ['timer', 'stopAll', 220],
      ['timer', 'start', 300],
      ['timer', 'stopAll', 340],
    ]);

    const laps = m.lapMesgs ?? [];
    expect(laps).toHaveLength(act.segments.length);
    expect(laps.map((l) => (ms(l.startTime) - act.startMs!) / 1000)).toEqual([0, 160, 300]);
    expect(laps.map((l) => l.totalTimerTime)).toEqual([100, 60, 40]);
    expect(laps.map((l) => l.totalElapsedTime)).toEqual([100, 60, 40]);
    expect(laps.map((l) => l.totalDistance)).toEqual([400, 200, 144.83]);
    // 55 kcal apportioned by segment duration (largest remainder), as in TCX.
    expect(laps.map((l) => l.totalCalories)).toEqual([28, 16, 11]);
    expect(laps.map((l) => [l.avgHeartRate, l.maxHeartRate])).toEqual([
      [125, 150],
      [140, 160],
      [150, 170],
    ]);
    expect(laps.map((l) => l.lapTrigger)).toEqual(['manual', 'manual', 'sessionEnd']);

    expect(m.sessionMesgs).toHaveLength(1);
    expect(m.sessionMesgs?.[0]).toMatchObject({
      sport: 'cycling',
      subSport: 'generic',
      totalTimerTime: 200,
      totalElapsedTime: 340,
      totalDistance: 1234.5,
      totalCalories: 55,
      maxHeartRate: 170,
      totalAscent: 12,
      numLaps: 3,
    });
    expect(m.activityMesgs?.[0]?.localTimestamp).toBe(
      (ms(m.activityMesgs?.[0]?.timestamp) - Date.UTC(1989, 11, 31)) / 1000 - 4 * 3600,
    );
  });

  it('manual entry with a known UTC start: summary only (no records, one lap, one session)', () => {
    const raw = { ...manualActivity(), utc_offset: 1 };
    const act = normalizeActivity(raw);
    const m = decode(renderFit(raw)!);
    expect(m.recordMesgs ?? []).toHaveLength(0);
    expect(m.lapMesgs).toHaveLength(1);
    expect(m.sessionMesgs).toHaveLength(1);
    expect(m.sessionMesgs?.[0]).toMatchObject({
      sport: 'walking',
      subSport: 'indoorWalking',
      totalTimerTime: 3000,
      totalElapsedTime: 3000,
      totalDistance: 5000,
      totalCalories: 251,
      avgHeartRate: 110,
      numLaps: 1,
    });
    expect(ms(m.sessionMesgs?.[0]?.startTime)).toBe(act.startMs);
    expect(m.lapMesgs?.[0]).toMatchObject({ totalTimerTime: 3000, totalCalories: 251 });
    expect(m.activityMesgs).toEqual([expect.objectContaining({ numSessions: 1 })]);
  });

  it('unknown UTC start (no offset, no position) → undefined', () => {
    expect(normalizeActivity(manualActivity()).startMs).toBeUndefined();
    expect(renderFit(manualActivity())).toBeUndefined();
  });

  it('same input, same bytes', () => {
    expect(renderFit(pausedActivity())).toEqual(renderFit(pausedActivity()));
  });

  // Speed is measured by the bench (npm run bench), not asserted on a shared machine.
  it('10,000 points: every record encoded and decoded', () => {
    const act = normalizeActivity(longActivity(10_000));
    const bytes = renderFit(act)!;
    const m = decode(bytes);
    expect(m.recordMesgs).toHaveLength(10_000);
    expect(ms(m.recordMesgs?.at(-1)?.timestamp)).toBe(act.startMs! + 9_999_000);
    expect(m.recordMesgs?.[5]?.heartRate).toBe(121);
    expect(m.sessionMesgs?.[0]?.totalTimerTime).toBe(9_999);
  });

  it('sport mapping', () => {
    expect(fitSport('Running')).toEqual({ sport: 'running', subSport: 'generic' });
    expect(fitSport('Running', 'Treadmill')).toEqual({ sport: 'running', subSport: 'treadmill' });
    expect(fitSport('Mountain Biking').subSport).toBe('mountain');
    expect(fitSport('Hiking').sport).toBe('hiking');
    expect(fitSport('Swimming').sport).toBe('swimming');
    expect(fitSport('Elliptical')).toEqual({ sport: 'fitnessEquipment', subSport: 'elliptical' });
    expect(fitSport('Other').sport).toBe('generic');
    expect(fitSport('Something new').sport).toBe('generic');
  });
});

describe('Lambda bundles stay FIT-free', () => {
  it('the fetcher (derived files on fetch) pulls in neither fit.ts nor @garmin/fitsdk', async () => {
    const root = join(import.meta.dirname, '..', '..');
    const r = await build({
      entryPoints: [join(root, 'functions', 'handlers', 'fetcher.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.some((i) => i.endsWith('export/derive.ts'))).toBe(true);
    expect(inputs.filter((i) => i.includes('fitsdk') || i.endsWith('export/fit.ts'))).toEqual([]);
  });
});
