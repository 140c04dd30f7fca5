import { gpx as toGeoJson } from '@tmcw/togeojson';
import { DOMParser } from '@xmldom/xmldom';
import { parse as parseCsv } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../../functions/core/errors.ts';
import { normalizeActivity, splitSegments } from '../../functions/core/export/activity.ts';
import { renderGeoJson } from '../../functions/core/export/geojson.ts';
import { GPX_NS, GPXTPX_NS, renderGpx } from '../../functions/core/export/gpx.ts';
import {
  CSV_HEADER,
  manifestEntry,
  renderAll,
  toCsvLine,
  toNdjsonLine,
} from '../../functions/core/export/index-row.ts';
import { apportion, renderTcx, TCX_NS } from '../../functions/core/export/tcx.ts';
import {
  contractActivity,
  longActivity,
  manualActivity,
  pausedActivity,
  recordedShapeActivity,
} from '../fixtures/activities.ts';

type El = {
  localName: string;
  namespaceURI: string | null;
  childNodes: ArrayLike<El & { nodeType: number }>;
  textContent: string | null;
  getAttribute(n: string): string | null;
  getAttributeNS(ns: string | null, n: string): string | null;
};

function parseXml(xml: string): El {
  const doc = new DOMParser({
    onError: (level, msg) => {
      if (level !== 'warning') throw new Error(msg);
    },
  }).parseFromString(xml, 'text/xml');
  return doc.documentElement as unknown as El;
}

const kids = (e: El, name?: string): El[] => {
  const out: El[] = [];
  for (let i = 0; i < e.childNodes.length; i++) {
    const c = e.childNodes[i]!;
    if (c.nodeType === 1 && (name === undefined || c.localName === name)) out.push(c);
  }
  return out;
};
const kid = (e: El, name: string) => kids(e, name)[0]!;
const all = (e: El, name: string): El[] =>
  kids(e).flatMap((c) => [...(c.localName === name ? [c] : []), ...all(c, name)]);

/** Children's names appear in the order the schema sequence lists them. */
function expectSchemaOrder(e: El, sequence: readonly string[]) {
  const idx = kids(e).map((c) => sequence.indexOf(c.localName));
  expect(idx).not.toContain(-1);
  expect(idx).toEqual([...idx].sort((a, b) => a - b));
}

const GPX_TRK = ['name', 'cmt', 'desc', 'src', 'link', 'number', 'type', 'extensions', 'trkseg'];
const GPX_TRKPT = [
  'ele',
  'time',
  'magvar',
  'geoidheight',
  'name',
  'cmt',
  'desc',
  'src',
  'link',
  'sym',
  'type',
  'fix',
  'sat',
  'hdop',
  'vdop',
  'pdop',
  'ageofdgpsdata',
  'dgpsid',
  'extensions',
];
const GPX_ROOT = ['metadata', 'wpt', 'rte', 'trk', 'extensions'];
const TCX_ACTIVITY = ['Id', 'Lap', 'Notes', 'Training', 'Creator', 'Extensions'];
const TCX_LAP = [
  'TotalTimeSeconds',
  'DistanceMeters',
  'MaximumSpeed',
  'Calories',
  'AverageHeartRateBpm',
  'MaximumHeartRateBpm',
  'Intensity',
  'Cadence',
  'TriggerMethod',
  'Track',
  'Notes',
  'Extensions',
];
const TCX_TRACKPOINT = [
  'Time',
  'Position',
  'AltitudeMeters',
  'DistanceMeters',
  'HeartRateBpm',
  'Cadence',
  'SensorState',
  'Extensions',
];
const UTC_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

describe('normalizeActivity', () => {
  it('splits at pause/resume, collapses double pauses, drops 0/0 points', () => {
    const act = normalizeActivity(pausedActivity());
    expect(act.segments.map((s) => [s.start, s.end])).toEqual([
      [0, 100],
      [160, 220],
      [300, 340],
    ]);
    expect(act.movingSeconds).toBe(200);
    expect(act.elapsedSeconds).toBe(340);
    expect(act.totals.durationSeconds).toBe(200);
    expect(act.totals.distanceMeters).toBe(1234.5);
    expect(act.hasPath).toBe(true);
    expect(act.utcOffset).toBe(-4);
    expect(act.path.some((p) => p.lat === 0 && p.lon === 0)).toBe(false);
    expect(act.flags).toContain('points-without-position');
  });

  it('recorded shape: moving time equals duration, elapsed is the last timestamp', () => {
    const act = normalizeActivity(recordedShapeActivity());
    expect(act.segments).toHaveLength(2);
    expect(act.movingSeconds).toBeCloseTo(123.774, 6);
    expect(act.elapsedSeconds).toBe(213.247);
    expect(act.start.flags).toEqual(['offset-missing']);
  });

  it('rejects unusable payloads with InvalidPayloadError', () => {
    expect(() => normalizeActivity(null)).toThrow(InvalidPayloadError);
    expect(() => normalizeActivity([])).toThrow(InvalidPayloadError);
    expect(() => normalizeActivity({ ...contractActivity(), uri: undefined })).toThrow(/no uri/);
    expect(() => normalizeActivity({ ...contractActivity(), uri: '/weight/1' })).toThrow(
      InvalidPayloadError,
    );
    expect(() => normalizeActivity({ ...contractActivity(), start_time: 'yesterday' })).toThrow(
      /start_time/,
    );
  });

  it('tolerates junk samples and field types', () => {
    const raw = {
      ...contractActivity(),
      has_path: 'false',
      heart_rate: [null, { timestamp: 'x', heart_rate: 1 }, { timestamp: '5', heart_rate: '120' }],
      path: [
        { timestamp: 0, latitude: 95, longitude: 0 },
        'junk',
        { timestamp: 1, latitude: 1, longitude: 1 },
      ],
      total_calories: 'lots',
    };
    const act = normalizeActivity(raw);
    expect(act.heartRate).toEqual([{ t: 5, v: 120 }]);
    expect(act.path).toHaveLength(1);
    expect(act.hasPath).toBe(false);
    expect(act.totals.calories).toBeUndefined();
  });

  it('segment invariants hold for arbitrary point sequences', () => {
    const types = fc.constantFrom('start', 'gps', 'pause', 'resume', 'end', 'manual');
    fc.assert(
      fc.property(fc.array(fc.tuple(types, fc.boolean()), { maxLength: 60 }), (spec) => {
        const pts = spec.map(([type, fix], i) => ({
          t: i,
          lat: fix ? 10 + i / 1000 : 0,
          lon: fix ? 10 : 0,
          alt: 1,
          type,
        }));
        const segs = splitSegments(pts);
        let last = -1;
        for (const s of segs) {
          expect(s.points.length).toBeGreaterThan(0);
          expect(s.start).toBeGreaterThan(last);
          expect(s.duration).toBe(s.end - s.start);
          for (const p of s.points) expect(p.lat === 0 && p.lon === 0).toBe(false);
          // only the last point of a segment can be a pause
          expect(s.points.slice(0, -1).some((p) => p.type === 'pause')).toBe(false);
          last = s.end;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('GPX', () => {
  it('contract activity: namespaces, metadata, order, UTC times, HR extension', () => {
    const root = parseXml(renderGpx(contractActivity())!);
    expect(root.localName).toBe('gpx');
    expect(root.namespaceURI).toBe(GPX_NS);
    expect(root.getAttribute('version')).toBe('1.1');
    expect(root.getAttribute('creator')).toBe('rk-sync');
    expect(root.getAttribute('xmlns:gpxtpx')).toBe(GPXTPX_NS);
    expect(root.getAttribute('xsi:schemaLocation')).toContain('gpx.xsd');
    expectSchemaOrder(root, GPX_ROOT);
    expect(kid(kid(root, 'metadata'), 'time').textContent).toBe('2024-03-05T06:15:00Z');
    const trk = kid(root, 'trk');
    expectSchemaOrder(trk, GPX_TRK);
    expect(kid(trk, 'desc').textContent).toBe('Short test loop');
    expect(kid(trk, 'type').textContent).toBe('Running');
    expect(kids(trk, 'trkseg')).toHaveLength(1);
    const pts = all(trk, 'trkpt');
    expect(pts).toHaveLength(4);
    for (const p of pts) {
      expect(p.namespaceURI).toBe(GPX_NS);
      expect(Number(p.getAttribute('lat'))).toBeGreaterThan(52);
      expect(p.getAttribute('lon')).toBe('4.89');
      expectSchemaOrder(p, GPX_TRKPT);
      expect(kid(p, 'time').textContent).toMatch(UTC_Z);
    }
    expect(pts.map((p) => kid(p, 'time').textContent)).toEqual([
      '2024-03-05T06:15:00Z',
      '2024-03-05T06:15:30Z',
      '2024-03-05T06:16:00Z',
      '2024-03-05T06:16:30Z',
    ]);
    const hrs = all(root, 'hr');
    expect(hrs.every((h) => h.namespaceURI === GPXTPX_NS)).toBe(true);
    expect(hrs.map((h) => Number(h.textContent))).toEqual([118, 139, 151, 156]);
  });

  it('one trkseg per moving segment; unicode and markup in notes survive', () => {
    const raw = pausedActivity();
    const root = parseXml(renderGpx(raw)!);
    const trk = kid(root, 'trk');
    expect(kids(trk, 'trkseg').map((s) => kids(s, 'trkpt').length)).toEqual([3, 3, 2]);
    expect(kid(trk, 'desc').textContent).toBe(raw.notes);
  });

  it('interpolates HR between samples and omits it far from any sample', () => {
    const raw = contractActivity();
    raw.heart_rate = [
      { timestamp: 0, heart_rate: 100 },
      { timestamp: 20, heart_rate: 120 },
    ];
    (raw.path as { timestamp: number }[])[1]!.timestamp = 10;
    const hrs = all(parseXml(renderGpx(raw)!), 'trkpt').map((p) => all(p, 'hr')[0]?.textContent);
    expect(hrs).toEqual(['100', '110', undefined, undefined]);
  });

  it('no HR data → no extensions at all', () => {
    const xml = renderGpx(recordedShapeActivity())!;
    expect(xml).not.toContain('<extensions>');
    expect(all(parseXml(xml), 'trkseg')).toHaveLength(2);
  });

  it('control characters are stripped from notes', () => {
    const xml = renderGpx({ ...contractActivity(), notes: 'a\u0001b\u0007c & <d>' })!;
    expect(kid(kid(parseXml(xml), 'trk'), 'desc').textContent).toBe('abc & <d>');
  });

  it('no path, only pauses → no GPX; one point → one trkseg with one trkpt', () => {
    expect(renderGpx(manualActivity())).toBeUndefined();
    const pauses = {
      ...contractActivity(),
      path: [0, 10, 20].map((t) => ({ timestamp: t, latitude: 52, longitude: 4, type: 'pause' })),
    };
    expect(renderGpx(pauses)).toBeUndefined();
    const one = {
      ...contractActivity(),
      path: [{ timestamp: 0, latitude: 52, longitude: 4, altitude: 3, type: 'start' }],
    };
    const root = parseXml(renderGpx(one)!);
    expect(all(root, 'trkseg')).toHaveLength(1);
    expect(all(root, 'trkpt')).toHaveLength(1);
  });

  it('round trip through @tmcw/togeojson: same points, times and heart rates', () => {
    for (const raw of [contractActivity(), pausedActivity(), recordedShapeActivity()]) {
      const doc = new DOMParser().parseFromString(renderGpx(raw)!, 'text/xml');
      const fc = toGeoJson(doc as unknown as Parameters<typeof toGeoJson>[0]);
      const feature = fc.features[0]!;
      const ours = renderGeoJson(raw);
      expect(feature.geometry).toEqual(ours.geometry);
      const cp = feature.properties!.coordinateProperties as { times: unknown; heart?: unknown };
      expect(cp.times).toEqual(ours.properties.coordTimes);
      if (ours.properties.heartRates) expect(cp.heart).toEqual(ours.properties.heartRates);
      const act = normalizeActivity(raw);
      const count = (g: unknown): number =>
        Array.isArray(g) && typeof g[0] === 'number'
          ? 1
          : (g as unknown[]).reduce<number>((s, x) => s + count(x), 0);
      expect(count((feature.geometry as { coordinates: unknown }).coordinates)).toBe(
        act.segments.filter((s) => s.points.length >= 2).reduce((s, x) => s + x.points.length, 0),
      );
    }
  });

  // Render speed is measured by the bench (npm run bench), not asserted here.
  it('10,000 points render and round-trip', () => {
    const raw = longActivity(10_000);
    const { files } = renderAll('1', raw);
    const gpx = files.find((f) => f.key.endsWith('.gpx'))!.body;
    const doc = new DOMParser().parseFromString(gpx, 'text/xml');
    const feature = toGeoJson(doc as unknown as Parameters<typeof toGeoJson>[0]).features[0]!;
    const coords = (feature.geometry as { coordinates: unknown[] }).coordinates;
    expect(coords).toHaveLength(10_000);
    const times = (feature.properties!.coordinateProperties as { times: string[] }).times;
    // 27 Oct 2024 02:30 local with utc_offset +1 → 01:30Z
    expect(times[0]).toBe('2024-10-27T01:30:00Z');
    expect(times[9_999]).toBe('2024-10-27T04:16:39Z');
  });

  it('unknown UTC start: no <time> elements', () => {
    const raw = { ...contractActivity(), utc_offset: undefined, path: [] as unknown[] };
    raw.path = [
      { timestamp: 0, latitude: 0.5, longitude: -160, type: 'start' }, // open Pacific
      { timestamp: 9, latitude: 0.6, longitude: -160, type: 'end' },
    ];
    const act = normalizeActivity(raw);
    if (act.startMs === undefined) {
      const xml = renderGpx(act)!;
      expect(xml).not.toContain('<time>');
    } else {
      // tz-lookup answers for the open sea (Etc/GMT+11): times present and flagged missing offset
      expect(act.start.flags).toContain('offset-missing');
    }
  });
});

describe('TCX', () => {
  it('contract activity: namespace, order, one lap, trackpoints with distance and HR', () => {
    const root = parseXml(renderTcx(contractActivity()));
    expect(root.localName).toBe('TrainingCenterDatabase');
    expect(root.namespaceURI).toBe(TCX_NS);
    const activity = kid(kid(root, 'Activities'), 'Activity');
    expect(activity.getAttribute('Sport')).toBe('Running');
    expectSchemaOrder(activity, TCX_ACTIVITY);
    expect(kid(activity, 'Id').textContent).toBe('2024-03-05T06:15:00Z');
    expect(kid(activity, 'Notes').textContent).toBe('Short test loop');
    const laps = kids(activity, 'Lap');
    expect(laps).toHaveLength(1);
    const lap = laps[0]!;
    expect(lap.getAttribute('StartTime')).toBe('2024-03-05T06:15:00Z');
    expectSchemaOrder(lap, TCX_LAP);
    expect(kid(lap, 'TotalTimeSeconds').textContent).toBe('90');
    expect(kid(lap, 'DistanceMeters').textContent).toBe('250.2');
    expect(kid(lap, 'Calories').textContent).toBe('18');
    expect(kid(kid(lap, 'AverageHeartRateBpm'), 'Value').textContent).toBe('141');
    expect(kid(kid(lap, 'MaximumHeartRateBpm'), 'Value').textContent).toBe('156');
    expect(kid(lap, 'Intensity').textContent).toBe('Active');
    expect(kid(lap, 'TriggerMethod').textContent).toBe('Manual');
    const tps = all(lap, 'Trackpoint');
    expect(tps).toHaveLength(4);
    for (const tp of tps) {
      expectSchemaOrder(tp, TCX_TRACKPOINT);
      expect(kid(tp, 'Time').textContent).toMatch(UTC_Z);
      expectSchemaOrder(kid(tp, 'Position'), ['LatitudeDegrees', 'LongitudeDegrees']);
    }
    expect(tps.map((t) => kid(t, 'DistanceMeters').textContent)).toEqual([
      '0',
      '83.4',
      '166.8',
      '250.2',
    ]);
    expect(tps.map((t) => kid(kid(t, 'HeartRateBpm'), 'Value').textContent)).toEqual([
      '118',
      '139',
      '151',
      '156',
    ]);
  });

  it('one lap per moving segment; integer calories summing to the total', () => {
    const root = parseXml(renderTcx(pausedActivity()));
    const activity = all(root, 'Activity')[0]!;
    expect(activity.getAttribute('Sport')).toBe('Biking');
    const laps = kids(activity, 'Lap');
    expect(laps).toHaveLength(3);
    const cals = laps.map((l) => kid(l, 'Calories').textContent!);
    for (const c of cals) expect(c).toMatch(/^\d+$/);
    expect(cals.reduce((s, c) => s + Number(c), 0)).toBe(55);
    expect(laps.map((l) => Number(kid(l, 'TotalTimeSeconds').textContent))).toEqual([100, 60, 40]);
    expect(laps.map((l) => l.getAttribute('StartTime'))).toEqual([
      '2024-06-01T12:05:00Z',
      '2024-06-01T12:07:40Z',
      '2024-06-01T12:10:00Z',
    ]);
    expect(laps.map((l) => Number(kid(l, 'DistanceMeters').textContent))).toEqual([
      400, 200, 144.83,
    ]);
    expect(kids(activity, 'Notes')[0]!.textContent).toBe(pausedActivity().notes);
  });

  it('manual entry: one summary lap without Track', () => {
    const xml = renderTcx(manualActivity());
    const root = parseXml(xml);
    const laps = all(root, 'Lap');
    expect(laps).toHaveLength(1);
    expect(all(root, 'Track')).toHaveLength(0);
    expect(kid(laps[0]!, 'Calories').textContent).toBe('251');
    expect(kid(laps[0]!, 'TotalTimeSeconds').textContent).toBe('3000');
    expect(xml).toContain('time zone unknown');
  });

  it('apportion keeps the sum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 20 }),
        (total, w) => {
          const out = apportion(total, w);
          expect(out.reduce((s, x) => s + x, 0)).toBe(total);
          for (const x of out) expect(Number.isInteger(x) && x >= 0).toBe(true);
        },
      ),
    );
  });
});

describe('GeoJSON', () => {
  it('LineString with [lon, lat, ele], coordTimes and heartRates', () => {
    const f = renderGeoJson(contractActivity());
    expect(f.geometry?.type).toBe('LineString');
    expect((f.geometry as { coordinates: number[][] }).coordinates[0]).toEqual([4.89, 52.37, 1]);
    expect(f.properties).toMatchObject({
      id: '900000003',
      type: 'Running',
      start: '2024-03-05T06:15:00Z',
      localStart: '2024-03-05T07:15:00',
      zone: 'Europe/Amsterdam',
      distance: 250.2,
      duration: 90,
      movingTime: 90,
      elapsedTime: 90,
      calories: 18,
      averageHeartRate: 141,
      notes: 'Short test loop',
      heartRates: [118, 139, 151, 156],
    });
    expect((f.properties.coordTimes as string[])[3]).toBe('2024-03-05T06:16:30Z');
  });

  it('MultiLineString per segment; null geometry without path; Point for one point', () => {
    const multi = renderGeoJson(pausedActivity());
    expect(multi.geometry?.type).toBe('MultiLineString');
    expect((multi.properties.coordTimes as string[][]).map((a) => a.length)).toEqual([3, 3, 2]);
    const manual = renderGeoJson(manualActivity());
    expect(manual.geometry).toBeNull();
    expect(manual.properties.start).toBeNull();
    const one = renderGeoJson({
      ...contractActivity(),
      path: [{ timestamp: 0, latitude: 52, longitude: 4, type: 'start' }],
    });
    expect(one.geometry).toEqual({ type: 'Point', coordinates: [4, 52] });
  });
});

describe('index row and renderAll', () => {
  it('renders every file with keys and content types', () => {
    const { files, row } = renderAll('40012345', contractActivity());
    expect(files.map((f) => [f.key, f.contentType])).toEqual([
      ['gpx/40012345/fitnessActivities/900000003.gpx', 'application/gpx+xml'],
      ['tcx/40012345/fitnessActivities/900000003.tcx', 'application/vnd.garmin.tcx+xml'],
      ['geojson/40012345/fitnessActivities/900000003.geojson', 'application/geo+json'],
    ]);
    expect(row).toMatchObject({
      id: '900000003',
      source: 'api',
      utcStart: '2024-03-05T06:15:00Z',
      localStart: '2024-03-05T07:15:00',
      utcOffset: 1,
      timeZone: 'Europe/Amsterdam',
      distanceMeters: 250.2,
      durationSeconds: 90,
      movingSeconds: 90,
      elapsedSeconds: 90,
      calories: 18,
      averageHeartRate: 141,
      climbMeters: 2.5,
      entryMode: 'API',
      hasPath: true,
      deleted: false,
      flags: [],
    });
    expect(row.keys.raw).toBe('raw/40012345/fitnessActivities/900000003.json');
    expect(JSON.parse(files[2]!.body).type).toBe('Feature');
  });

  it('manual entry has no GPX key; options override source and deleted', () => {
    const { files, row } = renderAll('7', manualActivity(), { source: 'api+zip', deleted: true });
    expect(files.map((f) => f.key.split('/')[0])).toEqual(['tcx', 'geojson']);
    expect(row.keys.gpx).toBeUndefined();
    expect(row.source).toBe('api+zip');
    expect(row.deleted).toBe(true);
    expect(row.utcStart).toBeUndefined();
    expect(row.flags).toEqual(['offset-missing', 'no-offset-no-position']);
  });

  it('CSV line follows the header and quotes per RFC 4180; NDJSON round-trips', () => {
    const { row } = renderAll('7', { ...pausedActivity(), type: 'Odd, "quoted"\ntype' });
    const line = toCsvLine(row);
    const [header, parsed] = parseCsv(`${CSV_HEADER}\r\n${line}\r\n`) as string[][];
    expect(parsed).toHaveLength(header!.length);
    expect(parsed![header!.indexOf('type')]).toBe('Odd, "quoted"\ntype');
    expect(parsed![header!.indexOf('utcOffset')]).toBe('-4');
    expect(parsed![header!.indexOf('gpxKey')]).toBe('gpx/7/fitnessActivities/900000010.gpx');
    expect(parsed![header!.indexOf('flags')]).toBe('points-without-position');
    expect(JSON.parse(toNdjsonLine(row))).toEqual(JSON.parse(JSON.stringify(row)));
    expect(toNdjsonLine(row)).not.toContain('\n');
  });

  it('manifestEntry hashes bytes', () => {
    expect(manifestEntry('k', 'abc')).toEqual({
      key: 'k',
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      size: 3,
    });
    expect(manifestEntry('k', 'é').size).toBe(2);
  });
});
