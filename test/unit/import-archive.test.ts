/**
 * Importing an export ZIP into the archive through the real ZIP reader (yauzl over a file and
 * over ranged reads), matched against activities the API already delivered.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../functions/adapters/memory/index.ts';
import { zipFromFile, zipFromRanges } from '../../functions/adapters/zip.ts';
import { writeDerived } from '../../functions/core/export/derive.ts';
import { importExportZip } from '../../functions/core/import/archive.ts';
import { silentLog } from '../../functions/core/ports.ts';
import { startSimulator } from '../../simulator/server.ts';
import { exportZipFrom } from '../fixtures/export-zip.ts';

const dir = mkdtempSync(join(tmpdir(), 'rk-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const dec = new TextDecoder();

async function keys(store: MemoryObjectStore, prefix: string) {
  const out: string[] = [];
  for await (const k of store.list(prefix)) out.push(k);
  return out;
}

describe('export ZIP → archive', () => {
  it('imports a few hundred activities; those the API already has become one activity with both sources', async () => {
    const sim = await startSimulator({ activities: 200, seed: 31 });
    try {
      const userId = sim.users[0]!.userId;
      const docs = sim
        .activityIds(userId)
        .map((id) => sim.document(userId, 'fitnessActivities', id) as Record<string, unknown>);
      const store = new MemoryObjectStore();
      // The API already delivered the first 70.
      for (const d of docs.slice(0, 70)) {
        const id = String(d.uri).split('/').pop();
        await store.put(
          `raw/${userId}/fitnessActivities/${id}.json`,
          new TextEncoder().encode(JSON.stringify(d)),
          'application/json',
        );
        await writeDerived(store, userId, d);
      }
      const { zip, withGpx } = exportZipFrom(docs);
      const file = join(dir, 'export.zip');
      writeFileSync(file, zip);
      const r = await importExportZip(store, userId, zipFromFile(file), { log: silentLog });
      expect(r.activities).toBe(200);
      expect(r.errors).toEqual([]);
      expect(r.originals).toBe(withGpx + 2);
      // Every original is kept byte for byte under export/{zipId}/.
      expect(await keys(store, `raw/${userId}/export/${r.zipId}/`)).toHaveLength(withGpx + 2);
      const nd = dec
        .decode(await store.get(`index/${userId}/activities.ndjson`))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string; source: string });
      // 200 distinct activities: the 70 the API had are merged, not duplicated.
      expect(nd).toHaveLength(200);
      const merged = nd.filter((x) => x.source === 'api+zip');
      expect(merged.length).toBeGreaterThanOrEqual(66);
      expect(nd.filter((x) => x.source === 'zip').length + merged.length).toBeGreaterThanOrEqual(
        196,
      );

      // Importing the same ZIP again writes nothing new (idempotent), read by ranges this time.
      const puts = store.puts;
      const again = await importExportZip(
        store,
        userId,
        zipFromRanges(zip.byteLength, async (s, e) =>
          Readable.from([Buffer.from(zip.subarray(s, e))]),
        ),
        { log: silentLog },
      );
      expect(again.written).toBe(0);
      expect(again.unchanged).toBe(200);
      expect(store.puts - puts).toBeLessThanOrEqual(2); // the rebuilt index files at most
    } finally {
      await sim.close();
    }
  }, 120_000); // 200 activities rendered twice: slow on a loaded 2-core machine

  it('hostile ZIPs get a clear report and lose nothing already stored', async () => {
    const store = new MemoryObjectStore();
    const existing = new TextEncoder().encode('{"keep":true}');
    await store.put('raw/5/fitnessActivities/1.json', existing, 'application/json');
    const enc = (s: string) => new TextEncoder().encode(s);
    const header =
      "Activity Id,Date,Type,Route Name,Distance (km),Duration,Average Pace,Average Speed (km/h),Calories Burned,Climb (m),Average Heart Rate (bpm),Friend's Tagged,Notes,GPX File";
    const zip = zipSync({
      'cardioActivities.csv': enc(
        `${header}\nabc-1,2024-03-01 07:00:00,Running,,5.0,25:00,,,,,,,,a.gpx\nbroken row without enough "quotes\n`,
      ),
      '../../etc/evil.gpx': enc('<gpx/>'),
      'dir/../../escape.txt': enc('x'),
      'a.gpx': enc('<gpx><trk><trkseg><trkpt lat="x"'),
      'bomb.bin': [new Uint8Array(8 * 1024 * 1024), { level: 9 }],
    });
    const file = join(dir, 'hostile.zip');
    writeFileSync(file, zip);
    const r = await importExportZip(store, '5', zipFromFile(file), { log: silentLog });
    const reasons = r.errors.map((e) => `${e.entry ?? ''}: ${e.reason}`).join('\n');
    expect(reasons).toMatch(/\.\.\/\.\.\/etc\/evil\.gpx: unsafe entry name: dot segment/);
    expect(reasons).toMatch(/escape\.txt: unsafe entry name/);
    expect(reasons).toMatch(/bomb\.bin: possible zip bomb: compression ratio/);
    expect(reasons).toMatch(/a\.gpx: .*imported without path/);
    expect(reasons).toMatch(/line/i);
    for (const k of await keys(store, '')) expect(k).not.toMatch(/\.\.|etc\/evil|escape/);
    expect(await store.get('raw/5/fitnessActivities/1.json')).toEqual(existing);
    expect(r.activities).toBe(1);
  });

  it('a file that is not a ZIP is a clear error, not a crash', async () => {
    const file = join(dir, 'not.zip');
    writeFileSync(file, 'hello');
    await expect(
      importExportZip(new MemoryObjectStore(), '5', zipFromFile(file), { log: silentLog }),
    ).rejects.toThrow(/end of central directory|not a ZIP/i);
  });
});
