/**
 * Real Runkeeper export shapes (test/fixtures/runkeeper-corpus.ts) through the real ZIP
 * reader into the archive: every distinct activity present once with the right UTC start,
 * nothing invented (no elevation, calories or distance the export lacks), in the raw
 * document and in every rendered format (GPX, TCX, GeoJSON, FIT decoded with Garmin's SDK).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder, Stream } from '@garmin/fitsdk';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../functions/adapters/memory/index.ts';
import { zipFromFile } from '../../functions/adapters/zip.ts';
import { writeDerived } from '../../functions/core/export/derive.ts';
import { renderFit } from '../../functions/core/export/fit.ts';
import type { IndexRow } from '../../functions/core/export/index-row.ts';
import { importExportZip } from '../../functions/core/import/archive.ts';
import {
  parseCardioCsv,
  syntheticId,
  toApiShapedActivity,
  type ZipLimits,
} from '../../functions/core/import/export-zip.ts';
import { parseExportGpx } from '../../functions/core/import/gpx-stream.ts';
import { silentLog } from '../../functions/core/ports.ts';
import {
  type Expected,
  MULTILINE_NOTE,
  newKmExport,
  oldMilesExport,
  runkeeperGpx,
  zipOf,
} from '../fixtures/runkeeper-corpus.ts';

const dir = mkdtempSync(join(tmpdir(), 'rk-corpus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const dec = new TextDecoder();
let n = 0;

async function importFiles(
  store: MemoryObjectStore,
  files: Record<string, Uint8Array>,
  limits: Partial<ZipLimits> = {},
) {
  const file = join(dir, `export-${n++}.zip`);
  writeFileSync(file, zipOf(files));
  return importExportZip(store, '0', zipFromFile(file), { log: silentLog, limits });
}

async function indexRows(store: MemoryObjectStore): Promise<IndexRow[]> {
  return dec
    .decode(await store.get('index/0/activities.ndjson'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as IndexRow);
}

const text = async (store: MemoryObjectStore, key: string | undefined) =>
  key === undefined ? undefined : dec.decode(await store.get(key));

/** Each expected activity is present exactly once, with its UTC start, words and flags. */
async function expectActivities(store: MemoryObjectStore, expected: Expected[]) {
  const rows = await indexRows(store);
  expect(rows).toHaveLength(expected.length);
  for (const e of expected) {
    const hits = rows.filter(
      (r) =>
        r.localStart === e.localStart &&
        r.type === e.type &&
        (e.notes === undefined || r.notes === e.notes),
    );
    expect(hits, `${e.localStart} ${e.type} ${e.notes ?? ''}`).toHaveLength(1);
    const r = hits[0]!;
    expect(r.utcStart).toBe(e.utcStart);
    expect(r.name).toBe(e.name);
    expect(r.notes).toBe(e.notes);
    expect(r.hasPath).toBe(e.hasPath);
    expect(r.calories).toBe(e.calories);
    for (const f of e.flags ?? []) expect(r.flags).toContain(f);
    if (!e.flags?.includes('gpx-local-time-as-utc')) {
      expect(r.flags).not.toContain('gpx-local-time-as-utc');
    }
    await expectNothingInvented(store, r, e);
  }
}

async function expectNothingInvented(store: MemoryObjectStore, r: IndexRow, e: Expected) {
  const raw = JSON.parse((await text(store, r.keys.raw))!) as Record<string, unknown>;
  const gpx = await text(store, r.keys.gpx);
  const tcx = (await text(store, r.keys.tcx))!;
  const geo = JSON.parse((await text(store, r.keys.geojson))!) as {
    geometry: { coordinates: unknown[] } | null;
  };
  if (e.calories === undefined) expect(raw).not.toHaveProperty('total_calories');
  if (e.utcStart === undefined) {
    // One rule for unknown time: no format claims a UTC instant.
    expect(tcx).not.toMatch(/<Time>[^<]*Z<\/Time>|<Id>[^<]*Z<\/Id>|StartTime="[^"]*Z"/);
    expect(tcx).toContain(`<Id>${e.localStart}</Id>`);
    expect(renderFit(raw)).toBeUndefined();
  } else {
    expect(tcx).toContain(`<Id>${e.utcStart}</Id>`);
    const fit = renderFit(raw)!;
    const { messages, errors } = new Decoder(Stream.fromByteArray(Array.from(fit))).read();
    expect(errors).toEqual([]);
    const session = messages.sessionMesgs![0]!;
    expect((session.startTime as Date).toISOString().replace('.000Z', 'Z')).toBe(e.utcStart);
    if (e.calories === undefined) expect(session.totalCalories).toBeUndefined();
    if (e.noElevation) {
      expect(messages.recordMesgs!.length).toBeGreaterThan(0);
      for (const rec of messages.recordMesgs!) expect(rec.altitude).toBeUndefined();
    }
  }
  if (e.noElevation) {
    const path = raw.path as Record<string, unknown>[];
    expect(path.length).toBeGreaterThan(0);
    for (const p of path) expect(p).not.toHaveProperty('altitude');
    expect(gpx).toBeDefined();
    expect(gpx).not.toContain('<ele>');
    expect(tcx).not.toContain('<AltitudeMeters>');
    const positions = (x: unknown): unknown[][] =>
      Array.isArray(x) && typeof x[0] === 'number' ? [x] : (x as unknown[]).flatMap(positions);
    const all = positions(geo.geometry?.coordinates ?? []);
    expect(all.length).toBeGreaterThan(1);
    for (const p of all) expect(p).toHaveLength(2);
  }
}

describe('Runkeeper export corpus → archive', () => {
  it('old 12-column export in miles: distinct rows kept, identical rows once, local-as-Z GPX corrected', async () => {
    const store = new MemoryObjectStore();
    const { files, expected, rows } = oldMilesExport();
    const r = await importFiles(store, files);
    expect(r.errors).toEqual([]);
    expect(r.counts).toEqual({
      new: expected.length,
      updated: 0,
      merged: 0,
      unchanged: 0,
      duplicate: 1,
      skipped: 0,
    });
    expect(r.items).toHaveLength(rows);
    expect(r.items.find((i) => i.outcome === 'duplicate')).toMatchObject({
      line: 9, // the multi-line note spans two lines
      reason: 'byte-identical to line 8',
    });
    await expectActivities(store, expected);
    // The user's words in the CSV index too: `name`, `notes` appended as the last columns.
    const csv = dec.decode(await store.get('index/0/activities.csv'));
    expect(csv.split('\r\n')[0]).toMatch(/,flags,name,notes$/);
    expect(csv).toContain(`,Thames path,"${MULTILINE_NOTE.replace(/"/g, '""')}"\r\n`);
    // Units: 3.11 mi and 85.3 ft in metres.
    const lake = (await indexRows(store)).find((x) => x.name === 'Lake loop')!;
    expect(lake.distanceMeters).toBeCloseTo(3.11 * 1609.344, 2);
    expect(lake.climbMeters).toBeCloseTo(85.3 * 0.3048, 2);
    expect(lake.durationSeconds).toBe(27 * 60 + 45);
    // A row no other row shares keeps the id earlier imports gave it (Date|Type|Distance).
    expect(lake.id).toBe(syntheticId('', `2014-06-14T07:02:11|Running|${3.11 * 1609.344}`));
    // The corrected GPX is shifted by exactly the zone offset: points keep their spacing.
    const gpx = (await text(store, lake.keys.gpx))!;
    expect(gpx).toContain('<time>2014-06-14T11:02:11Z</time>');
    expect(gpx).toContain('<time>2014-06-14T11:02:16Z</time>');
  });

  it('re-importing the same ZIP changes nothing; a later, larger export adds only the new activity', async () => {
    const store = new MemoryObjectStore();
    const first = oldMilesExport();
    await importFiles(store, first.files);
    const again = await importFiles(store, first.files);
    expect(again.written).toBe(0);
    expect(again.counts).toMatchObject({ new: 0, unchanged: first.expected.length, duplicate: 1 });
    const later = oldMilesExport({ withLaterRow: true });
    const r = await importFiles(store, later.files);
    expect(r.counts).toMatchObject({ new: 1, unchanged: first.expected.length, duplicate: 1 });
    await expectActivities(store, later.expected);
  });

  it('new 14-column export in km with CRLF and macOS litter: litter skipped as notices, zones right', async () => {
    const store = new MemoryObjectStore();
    const { files, expected } = newKmExport();
    const r = await importFiles(store, files);
    expect(r.errors).toEqual([]);
    expect(r.notices.map((x) => x.entry).sort()).toEqual([
      '.DS_Store',
      '__MACOSX/._cardioActivities.csv',
    ]);
    expect(r.counts).toMatchObject({ new: 3, duplicate: 0, skipped: 0 });
    await expectActivities(store, expected);
    const yoga = (await indexRows(store)).find((x) => x.type === 'Yoga')!;
    const raw = JSON.parse((await text(store, yoga.keys.raw))!) as Record<string, unknown>;
    expect(raw).not.toHaveProperty('total_distance'); // the CSV has none
    expect(yoga.flags).toContain('distance-missing');
    const geo = JSON.parse((await text(store, yoga.keys.geojson))!) as {
      properties: Record<string, unknown>;
    };
    expect(geo.properties.distance).toBeNull();
    // With a known start (an offset), FIT is written, still without a distance.
    const fit = renderFit({ ...raw, utc_offset: 2 })!;
    const { messages } = new Decoder(Stream.fromByteArray(Array.from(fit))).read();
    expect(messages.sessionMesgs![0]!.totalDistance).toBeUndefined();
    expect(messages.sessionMesgs![0]!.totalCalories).toBe(150);
  });

  it('an activity the API already has is merged, and the summary says so', async () => {
    const store = new MemoryObjectStore();
    const { files } = newKmExport();
    // The API's copy of the Sydney ride: same start, type and distance.
    await writeDerived(store, '0', {
      uri: '/fitnessActivities/555',
      type: 'Cycling',
      start_time: 'Sat, 9 Jan 2016 06:30:12',
      utc_offset: 11,
      total_distance: 21400,
      duration: 3902,
      path: [],
    });
    const r = await importFiles(store, files);
    expect(r.counts).toMatchObject({ new: 2, merged: 1 });
    expect(r.items.find((i) => i.outcome === 'merged')).toMatchObject({ mergedWith: '555' });
  });

  it('an activity the store refuses is reported as skipped; the others are stored', async () => {
    class FailingStore extends MemoryObjectStore {
      override async put(key: string, body: Uint8Array, type: string) {
        if (
          key.startsWith('raw/0/fitnessActivities/') &&
          new TextDecoder().decode(body).includes('"Yoga"')
        ) {
          throw new Error('disk says no');
        }
        return super.put(key, body, type);
      }
    }
    const store = new FailingStore();
    const r = await importFiles(store, newKmExport().files);
    expect(r.counts).toMatchObject({ new: 2, skipped: 1 });
    expect(r.items.find((i) => i.outcome === 'skipped')).toMatchObject({
      type: 'Yoga',
      reason: 'not stored: Error: disk says no',
    });
    expect(await indexRows(store)).toHaveLength(2);
  });

  it('a GPX above the size cap is kept as an original; its activity is imported without a path', async () => {
    const store = new MemoryObjectStore();
    const { files } = newKmExport();
    const r = await importFiles(store, files, { maxGpxBytes: 5_000 });
    expect(r.counts).toMatchObject({ new: 3 });
    expect(r.errors.map((e) => `${e.entry}: ${e.reason}`).sort()).toEqual([
      '2015-07-04-181500.gpx: GPX larger than 5000 bytes: kept, activity imported without path',
      '2016-01-09-063012.gpx: GPX larger than 5000 bytes: kept, activity imported without path',
    ]);
    expect((await indexRows(store)).every((row) => !row.hasPath)).toBe(true);
    const originals: string[] = [];
    for await (const k of store.list(`raw/0/export/${r.zipId}/`)) originals.push(k);
    expect(originals.filter((k) => k.endsWith('.gpx'))).toHaveLength(2);
  });

  it('a GPX of 150,000 points in one segment is read as a stream and keeps its whole path', () => {
    // One segment past the ~125k arguments a spread (`points.push(...pts)`) survives.
    const big = runkeeperGpx({
      title: 'Cycling 8/1/15 5:00 am',
      firstTimeMs: Date.UTC(2015, 7, 1, 3, 0, 0),
      lat: 52.52,
      lon: 13.405,
      segments: [150_000],
      stepSeconds: 1,
    });
    const gpx = parseExportGpx(new TextEncoder().encode(big));
    expect(gpx.points).toHaveLength(150_000);
    expect(gpx.segments).toHaveLength(1);
    const { rows } = parseCardioCsv(
      'Date,Type,Distance (km),Duration,GPX File\n2015-08-01 05:00:00,Cycling,300,41:40:00,big.gpx\n',
    );
    const act = toApiShapedActivity(rows[0]!, gpx);
    expect(act.utc_offset).toBe(2);
    expect((act.path as unknown[]).length).toBe(150_000);
  }, 120_000);
});
