import { unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { normalizeActivity } from '../../functions/core/export/activity.ts';
import { renderGpx } from '../../functions/core/export/gpx.ts';
import { renderAll } from '../../functions/core/export/index-row.ts';
import { formatStartTime } from '../../functions/core/export/time.ts';
import {
  type CardioRow,
  GpxParseError,
  importZip,
  matchActivity,
  parseCardioCsv,
  parseDuration,
  parseExportGpx,
  safeEntryName,
  syntheticId,
  toApiShapedActivity,
  type ZipEntry,
} from '../../functions/core/import/export-zip.ts';
import { assertId } from '../../functions/core/keys.ts';
import { contractActivity, pausedActivity } from '../fixtures/activities.ts';

const KM_HEADER =
  "Activity Id,Date,Type,Route Name,Distance (km),Duration,Average Pace,Average Speed (km/h),Calories Burned,Climb (m),Average Heart Rate (bpm),Friend's Tagged,Notes,GPX File";
const MI_HEADER =
  "Activity Id,Date,Type,Route Name,Distance (mi),Duration,Average Pace,Average Speed (mph),Calories Burned,Climb (ft),Average Heart Rate (bpm),Friend's Tagged,Notes,GPX File";
const UUID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

describe('parseDuration', () => {
  it('reads mm:ss, h:mm:ss and seconds', () => {
    expect(parseDuration('5:07')).toBe(307);
    expect(parseDuration('1:02:03')).toBe(3723);
    expect(parseDuration('75:00')).toBe(4500);
    expect(parseDuration('42')).toBe(42);
    expect(parseDuration('1:60')).toBeUndefined();
    expect(parseDuration('abc')).toBeUndefined();
  });
});

describe('parseCardioCsv', () => {
  it('km variant', () => {
    const { rows, errors } = parseCardioCsv(
      `${KM_HEADER}\n${UUID},2019-05-04 16:35:09,Running,,10.5,52:30,5:00,12.0,700,45,150,,"Nice run",2019-05-04-163509.gpx\n`,
    );
    expect(errors).toEqual([]);
    expect(rows[0]).toMatchObject({
      line: 2,
      activityId: UUID,
      date: '2019-05-04T16:35:09',
      type: 'Running',
      distanceMeters: 10500,
      durationSeconds: 3150,
      averagePaceSecondsPerKm: 300,
      calories: 700,
      climbMeters: 45,
      averageHeartRate: 150,
      notes: 'Nice run',
      gpxFile: '2019-05-04-163509.gpx',
    });
    expect(rows[0]!.averageSpeedMps).toBeCloseTo(12 / 3.6, 9);
  });

  it('mi/ft variant converts to metres', () => {
    const { rows } = parseCardioCsv(
      `${MI_HEADER}\r\n${UUID},2019-05-04 16:35:09,Cycling,,1,1:00:00,8:02,10,300,100,,,,\r\n`,
    );
    const r = rows[0]!;
    expect(r.distanceMeters).toBeCloseTo(1609.344, 6);
    expect(r.climbMeters).toBeCloseTo(30.48, 6);
    expect(r.averageSpeedMps).toBeCloseTo((1609.344 * 10) / 3600, 6);
    expect(r.averagePaceSecondsPerKm).toBeCloseTo(482 / 1.609344, 6);
    expect(r.averageHeartRate).toBeUndefined();
    expect(r.notes).toBeUndefined();
    expect(r.gpxFile).toBeUndefined();
  });

  it('maps reordered and missing columns by header name; BOM tolerated', () => {
    const { rows, errors } = parseCardioCsv(
      '\uFEFFType,Notes,Date,Distance (km),Activity Id\nWalking,,2020-01-02 03:04:05,2.5,abc\n',
    );
    expect(errors).toEqual([]);
    expect(rows[0]).toMatchObject({
      type: 'Walking',
      date: '2020-01-02T03:04:05',
      distanceMeters: 2500,
      activityId: 'abc',
      durationSeconds: undefined,
    });
  });

  it('quoted notes with commas, doubled quotes and newlines', () => {
    const note = 'Line one, with comma\nLine "two"\nthree';
    const csv = `${KM_HEADER}\n${UUID},2019-05-04 16:35:09,Running,,1,5:00,5:00,12,70,1,,,"${note.replace(/"/g, '""')}",\nb,2019-05-05 10:00:00,Running,,1,5:00,5:00,12,70,1,,,,\n`;
    const { rows, errors } = parseCardioCsv(csv);
    expect(errors).toEqual([]);
    expect(rows.map((r) => r.notes)).toEqual([note, undefined]);
    expect(rows[1]!.line).toBe(5);
  });

  it('broken rows are reported with line numbers and skipped', () => {
    const csv = [
      KM_HEADER,
      `a,2019-05-04 16:35:09,Running,,1,5:00,5:00,12,70,1,,,,`,
      `b,2019-05-04,Running,,1,5:00,5:00,12,70,1,,,,`,
      `c,2019-05-04 16:35:09,Running,,one,5:00,5:00,12,70,1,,,,`,
      `d,2019-05-04 16:35:09,Running`,
      `e,2019-05-04 16:35:09,Running,,1,5:xx,5:00,12,70,1,,,,`,
      `f,2019-05-06 16:35:09,Running,,2,10:00,5:00,12,70,1,,,,`,
      `g,2019-05-07 16:35:09,Running,,2,10:00,5:00,12,70,1,,,"unterminated,`,
    ].join('\n');
    const { rows, errors } = parseCardioCsv(csv);
    expect(rows.map((r) => r.activityId)).toEqual(['a', 'f']);
    expect(errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 8]);
    expect(errors[0]!.reason).toMatch(/bad Date/);
    expect(errors[1]!.reason).toMatch(/bad Distance/);
    expect(errors[2]!.reason).toMatch(/expected 14 fields, found 3/);
    expect(errors[3]!.reason).toMatch(/bad Duration/);
    expect(errors[4]!.reason).toMatch(/CSV syntax/);
  });

  it('missing header or Date column is reported, not thrown', () => {
    expect(parseCardioCsv('').errors[0]!.reason).toMatch(/no header/);
    expect(parseCardioCsv('Type,Distance (km)\nRunning,1\n').errors[0]!.reason).toMatch(/Date/);
  });
});

describe('parseExportGpx', () => {
  it('reads our own GPX: segments, UTC times, heart rate', () => {
    const g = parseExportGpx(renderGpx(pausedActivity())!);
    expect(g.segments.map((s) => s.length)).toEqual([3, 3, 2]);
    expect(g.points[0]).toEqual({
      time: Date.parse('2024-06-01T12:05:00Z'),
      lat: 40.7,
      lon: -74,
      ele: 10,
      hr: 100,
    });
    expect(g.type).toBe('Cycling');
  });

  it('tolerates GPX without a namespace and skips bad points', () => {
    const g = parseExportGpx(
      '<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>bad</time></trkpt><trkpt lat="x" lon="2"/></trkseg><trkseg/></trk></gpx>',
    );
    expect(g.segments).toHaveLength(1);
    expect(g.points).toEqual([{ time: undefined, lat: 1, lon: 2, ele: undefined, hr: undefined }]);
  });

  it('throws GpxParseError on broken XML or a foreign root', () => {
    expect(() => parseExportGpx('<gpx><trk>')).toThrow(GpxParseError);
    expect(() => parseExportGpx('<kml/>')).toThrow(/root/);
    expect(() => parseExportGpx('')).toThrow(GpxParseError);
  });
});

describe('synthetic ids', () => {
  it('are 20 digits starting with 9, deterministic and valid API ids', () => {
    const id = syntheticId(UUID);
    expect(id).toMatch(/^9\d{19}$/);
    expect(assertId(id)).toBe(id);
    expect(syntheticId(UUID.toUpperCase())).toBe(id);
    expect(id).toBe(`9${BigInt('0x3f2504e04f8941d').toString().padStart(19, '0')}`);
    expect(syntheticId('ffffffff-ffff-ffff-ffff-ffffffffffff')).toMatch(/^9\d{19}$/);
    expect(syntheticId('not-a-uuid')).toMatch(/^9\d{19}$/);
    expect(syntheticId('')).not.toBe(syntheticId('', 'seed'));
    expect(syntheticId('3f2504e0-4f89-41d3-9a0c-0305e82c3302')).toBe(id); // same first 15 hex
  });
});

function row(over: Partial<CardioRow> = {}): CardioRow {
  return {
    line: 2,
    activityId: UUID,
    date: '2024-03-05T07:15:00',
    type: 'Running',
    routeName: undefined,
    distanceMeters: 250.2,
    durationSeconds: 90,
    averagePaceSecondsPerKm: undefined,
    averageSpeedMps: undefined,
    calories: 18,
    climbMeters: 2.5,
    averageHeartRate: undefined,
    friendsTagged: undefined,
    notes: 'from zip',
    gpxFile: 'x.gpx',
    ...over,
  };
}

describe('toApiShapedActivity', () => {
  it('derives the offset from CSV local vs GPX UTC and reproduces every point time', () => {
    const gpx = parseExportGpx(renderGpx(pausedActivity())!);
    const act = toApiShapedActivity(row({ date: '2024-06-01T08:05:00', type: 'Cycling' }), gpx);
    expect(act.source).toBe('RunKeeper export');
    expect(act.utc_offset).toBe(-4);
    expect(act.start_time).toBe('Sat, 1 Jun 2024 08:05:00');
    const n = normalizeActivity(act);
    expect(n.start.utc).toBe('2024-06-01T12:05:00Z');
    expect(n.segments.map((s) => [s.start, s.end])).toEqual([
      [0, 100],
      [160, 220],
      [300, 340],
    ]);
    expect(n.heartRate.map((h) => h.v)).toEqual([100, 150, 120, 160, 160, 130, 170]);
    const again = parseExportGpx(renderGpx(n)!);
    expect(again.points.map((p) => p.time)).toEqual(gpx.points.map((p) => p.time));
    const { row: idx } = renderAll('1', act);
    expect(idx.source).toBe('zip');
    expect(idx.id).toBe(syntheticId(UUID));
  });

  it('rounds to quarter hours (Kathmandu +5:45) and tolerates a late first fix', () => {
    const gpx = parseExportGpx(
      '<gpx><trk><trkseg><trkpt lat="27.7" lon="85.3"><time>2024-03-01T00:15:07Z</time></trkpt>' +
        '<trkpt lat="27.701" lon="85.3"><time>2024-03-01T00:16:07Z</time></trkpt></trkseg></trk></gpx>',
    );
    const act = toApiShapedActivity(row({ date: '2024-03-01T06:00:00' }), gpx);
    expect(act.utc_offset).toBe(5.75);
    const n = normalizeActivity(act);
    expect(n.start.flags).toEqual([]);
    expect(n.start.zone).toBe('Asia/Kathmandu');
    expect(n.path[0]!.t).toBe(7);
  });

  it('manual rows (no GPX) have no path and no offset', () => {
    const act = toApiShapedActivity(row({ gpxFile: undefined }));
    expect(act.utc_offset).toBeUndefined();
    expect(act.has_path).toBe(false);
    expect(act.entry_mode).toBe('Web');
    const { row: idx, files } = renderAll('1', act);
    expect(idx.flags).toContain('no-offset-no-position');
    expect(files.map((f) => f.key.split('/')[0])).toEqual(['tcx', 'geojson']);
  });
});

describe('matchActivity', () => {
  const api = renderAll('1', contractActivity()).row; // local 07:15, UTC 06:15, 250.2 m
  const zipRow = (over: Record<string, unknown>) => ({
    type: 'Running',
    localStart: '2024-03-05T07:15:00',
    utcStart: '2024-03-05T06:15:00Z' as string | undefined,
    distanceMeters: 250.2,
    ...over,
  });
  it('matches on local start, or on UTC start when locals differ', () => {
    expect(matchActivity(zipRow({}), [api])).toBe('900000003');
    expect(
      matchActivity(zipRow({ localStart: '2024-03-05T07:16:30', utcStart: undefined }), [api]),
    ).toBe('900000003');
    expect(matchActivity(zipRow({ localStart: '2024-03-05T09:15:00' }), [api])).toBe('900000003');
  });
  it('respects type family and distance tolerance', () => {
    expect(matchActivity(zipRow({ type: 'Walking' }), [api])).toBeUndefined();
    expect(matchActivity(zipRow({ distanceMeters: 310 }), [api])).toBeUndefined();
    expect(matchActivity(zipRow({ distanceMeters: 295 }), [api])).toBe('900000003'); // 50 m
    const ride = { ...api, id: '5', type: 'Mountain Biking', distanceMeters: 20_000 };
    expect(matchActivity(zipRow({ type: 'Cycling', distanceMeters: 20_500 }), [ride])).toBe('5');
  });
  it('accepts a unique quarter-hour shift within ±36 h, never a whole-day shift', () => {
    const shifted = zipRow({ localStart: '2024-03-05T12:00:00', utcStart: '2024-03-05T00:30:00Z' });
    expect(matchActivity(shifted, [api])).toBe('900000003');
    const dayLater = zipRow({
      localStart: '2024-03-06T07:15:00',
      utcStart: '2024-03-06T06:15:00Z',
    });
    expect(matchActivity(dayLater, [api])).toBeUndefined();
    const tooFar = zipRow({ localStart: '2024-03-07T07:00:00', utcStart: '2024-03-07T06:00:00Z' });
    expect(matchActivity(tooFar, [api])).toBeUndefined();
    const twin = {
      ...api,
      id: '6',
      utcStart: '2024-03-05T08:15:00Z',
      localStart: '2024-03-05T09:15:00',
    };
    expect(matchActivity(shifted, [api, twin])).toBeUndefined();
    expect(matchActivity(zipRow({}), [twin, api])).toBe('900000003');
  });
});

describe('safeEntryName', () => {
  it.each([
    ['../evil.txt', 'dot segment'],
    ['a/../../b', 'dot segment'],
    ['/etc/passwd', 'absolute path'],
    ['C:/Windows/x', 'drive letter'],
    ['a\\b.gpx', 'backslash in name'],
    ['a\u0000.gpx', 'control character in name'],
    ['', 'empty name'],
    ['a//b', 'empty segment'],
  ])('rejects %j', (name, reason) => {
    expect(safeEntryName(name)).toEqual({ ok: false, reason });
  });
  it('accepts ordinary names', () => {
    expect(safeEntryName('export/2019-05-04-163509.gpx')).toEqual({
      ok: true,
      name: 'export/2019-05-04-163509.gpx',
    });
  });
});

/** Streams entries of an in-memory ZIP (declared sizes from the central directory). */
async function* entriesOf(zip: Uint8Array): AsyncIterable<ZipEntry> {
  const infos: { name: string; size: number; originalSize: number }[] = [];
  unzipSync(zip, {
    filter: (f) => {
      infos.push({ name: f.name, size: f.size, originalSize: f.originalSize });
      return false;
    },
  });
  for (const info of infos) {
    yield {
      name: info.name,
      size: info.originalSize,
      compressedSize: info.size,
      read: async () => unzipSync(zip, { filter: (f) => f.name === info.name })[info.name]!,
    };
  }
}

async function* fake(list: ZipEntry[]): AsyncIterable<ZipEntry> {
  yield* list;
}

const enc = (s: string) => new TextEncoder().encode(s);

function exportZip(n: number): { zip: Uint8Array; rows: string[] } {
  const files: Record<string, Uint8Array> = {};
  const rows: string[] = [KM_HEADER];
  for (let i = 0; i < n; i++) {
    const day = new Date(Date.UTC(2020, 0, 1) + i * 86_400_000);
    const date = `${day.toISOString().slice(0, 10)} 07:15:00`;
    const uuid = `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
    const hasGpx = i % 3 !== 0;
    const gpxName = `${date.replace(/[-:]/g, '').replace(' ', '-')}.gpx`;
    if (hasGpx) {
      const raw = contractActivity();
      raw.start_time = formatStartTime({
        year: day.getUTCFullYear(),
        month: day.getUTCMonth() + 1,
        day: day.getUTCDate(),
        hour: 7,
        minute: 15,
        second: 0,
      });
      files[`export/${gpxName}`] = enc(renderGpx(raw)!);
    }
    rows.push(
      `${uuid},${date},Running,,0.25,1:30,6:00,10,18,2,,,"note ${i}, ""quoted""",${hasGpx ? gpxName : ''}`,
    );
  }
  files['export/cardioActivities.csv'] = enc(`${rows.join('\n')}\n`);
  files['export/measurements.csv'] = enc('Date,Weight\n2020-01-01,70\n');
  files['export/README.txt'] = enc('hello');
  return { zip: zipSync(files), rows };
}

describe('importZip', () => {
  it('imports a generated export of 300 activities', async () => {
    const { zip } = exportZip(300);
    const res = await importZip(entriesOf(zip));
    expect(res.report.errors).toEqual([]);
    expect(res.report.imported).toBe(300);
    expect(res.report.skipped).toBe(0);
    expect(res.measurementsCsv).toContain('Weight');
    expect(res.otherFiles.map((f) => f.name)).toEqual(['export/README.txt']);
    const withPath = res.activities.filter((a) => a.has_path);
    expect(withPath).toHaveLength(200);
    const first = withPath[0]!;
    expect(first.utc_offset).toBe(1);
    const { row } = renderAll('1', first);
    expect(row.utcStart).toBe('2020-01-02T06:15:00Z');
    expect(row.hasPath).toBe(true);
    expect(row.keys.gpx).toBe(`gpx/1/fitnessActivities/${row.id}.gpx`);
    expect(new Set(res.activities.map((a) => a.uri)).size).toBe(300);
    expect(res.activities[0]!.notes).toBe('note 0, "quoted"');
  });

  it('hostile entries become report entries, never exceptions', async () => {
    const csv = `${KM_HEADER}\n${UUID},2019-05-04 16:35:09,Running,,1,5:00,5:00,12,70,1,,,,broken.gpx\nbad row\nb,2019-05-05 16:35:09,Running,,1,5:00,5:00,12,70,1,,,,missing.gpx\n`;
    const bomb = new Uint8Array(4 * 1024 * 1024); // zeros: compresses ~1000:1
    const zip = zipSync(
      {
        'cardioActivities.csv': enc(csv),
        'broken.gpx': enc('<gpx><trk><trkseg><trkpt lat="1"'),
        'orphan.gpx': enc('<gpx/>'),
        'bomb.bin': bomb,
      },
      { level: 9 },
    );
    const fromZip: ZipEntry[] = [];
    for await (const e of entriesOf(zip)) fromZip.push(e);
    const liar: ZipEntry = {
      name: 'liar.csv',
      size: 10,
      compressedSize: 10,
      read: async () => new Uint8Array(2048),
    };
    const huge: ZipEntry = {
      name: 'huge.bin',
      size: 1e12,
      compressedSize: 1e6,
      read: async () => {
        throw new Error('must not be read');
      },
    };
    const unreadable: ZipEntry = {
      name: 'x.txt',
      size: 1,
      compressedSize: 1,
      read: async () => {
        throw new Error('CRC mismatch');
      },
    };
    const traversal = ['../evil.gpx', '/abs.gpx', 'C:/win.gpx', 'a\\b.gpx'].map((name) => ({
      name,
      size: 1,
      compressedSize: 1,
      read: async () => enc('x'),
    }));
    const res = await importZip(
      fake([...traversal, ...fromZip, liar, huge, unreadable, fromZip[0]!]),
      {
        maxEntryBytes: 1024 * 1024 * 8,
        maxTotalBytes: 1024 * 1024 * 16,
      },
    );
    const reasons = res.report.errors.map((e) => `${e.entry ?? ''}|${e.line ?? ''}|${e.reason}`);
    expect(reasons).toEqual(
      expect.arrayContaining([
        '../evil.gpx||unsafe entry name: dot segment',
        '/abs.gpx||unsafe entry name: absolute path',
        'C:/win.gpx||unsafe entry name: drive letter',
        'a\\b.gpx||unsafe entry name: backslash in name',
        'bomb.bin||possible zip bomb: compression ratio above 100',
        'huge.bin||possible zip bomb: entry larger than 8388608 bytes',
        'x.txt||cannot read entry: Error: CRC mismatch',
        'cardioActivities.csv||duplicate entry name',
        'cardioActivities.csv|3|expected 14 fields, found 1',
        'cardioActivities.csv|4|GPX file "missing.gpx" not in the ZIP: imported without path',
        'orphan.gpx||GPX file not referenced by cardioActivities.csv',
      ]),
    );
    expect(reasons.some((r) => r.startsWith('broken.gpx||malformed XML'))).toBe(true);
    expect(res.report.imported).toBe(2);
    expect(res.activities.every((a) => a.has_path === false)).toBe(true);
    expect(res.otherFiles.map((f) => f.name)).toContain('liar.csv');

    const tight = await importZip(fake([liar]), { maxEntryBytes: 1000 });
    expect(tight.report.errors[0]!.reason).toMatch(/larger than declared limits/);
  });

  it('stops after maxEntries and reports a missing CSV', async () => {
    const many = Array.from({ length: 5 }, (_, i) => ({
      name: `f${i}.txt`,
      size: 1,
      compressedSize: 1,
      read: async () => enc('x'),
    }));
    const res = await importZip(fake(many), { maxEntries: 3 });
    expect(res.otherFiles).toHaveLength(3);
    expect(res.report.errors.map((e) => e.reason)).toEqual([
      'more than 3 entries: the rest were not read',
      'cardioActivities.csv not found',
    ]);
  });
});
