/**
 * Memory of importing one big export GPX (issue #12.8): a ~20 MiB Runkeeper-shaped GPX
 * (one point a second) parsed with the streaming reader, then imported whole (API-shaped
 * document, GPX/TCX/GeoJSON, index) into an in-memory store. Prints one JSON line with the
 * file size, points and the peak RSS and heap (sampled), in MiB.
 *
 *   node --expose-gc bench/gpx-memory.ts [MiB]
 */
import { MemoryObjectStore } from '../functions/adapters/memory/index.ts';
import { importExportZip } from '../functions/core/import/archive.ts';
import type { ZipEntry } from '../functions/core/import/export-zip.ts';
import { parseExportGpx } from '../functions/core/import/gpx-stream.ts';
import { silentLog } from '../functions/core/ports.ts';
import { runkeeperGpx } from '../test/fixtures/runkeeper-corpus.ts';

const targetMiB = Number(process.argv[2] ?? 14);
const MiB = 1024 * 1024;
// A point is ~190 bytes in Runkeeper's layout (with elevation and heart rate).
const points = Math.round((targetMiB * MiB) / 190);
const gpx = new TextEncoder().encode(
  runkeeperGpx({
    title: 'Cycling 8/1/15 5:00 am',
    firstTimeMs: Date.UTC(2015, 7, 1, 3, 0, 0),
    lat: 52.52,
    lon: 13.405,
    segments: [points],
    stepSeconds: 1,
    hr: true,
  }),
);
const gc = (globalThis as { gc?: () => void }).gc;

async function peak<T>(fn: () => Promise<T>): Promise<{ result: T; rss: number; heap: number }> {
  gc?.();
  const base = process.memoryUsage();
  let rss = 0;
  let heap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss - base.rss);
    heap = Math.max(heap, m.heapUsed - base.heapUsed);
  };
  const timer = setInterval(sample, 5);
  const result = await fn();
  sample();
  clearInterval(timer);
  return { result, rss: Math.round(rss / MiB), heap: Math.round(heap / MiB) };
}

const parse = await peak(async () => parseExportGpx(gpx).points.length);
const csv = new TextEncoder().encode(
  `Date,Type,Distance (km),Duration,GPX File\n2015-08-01 05:00:00,Cycling,300,${Math.floor(points / 3600)}:00:00,big.gpx\n`,
);
async function* entries(): AsyncIterable<ZipEntry> {
  for (const [name, bytes] of [
    ['cardioActivities.csv', csv],
    ['big.gpx', gpx],
  ] as const) {
    yield {
      name,
      size: bytes.byteLength,
      compressedSize: bytes.byteLength,
      read: async () => bytes,
    };
  }
}
const imp = await peak(() =>
  importExportZip(new MemoryObjectStore(), '0', { entries }, { log: silentLog }),
);
console.log(
  JSON.stringify({
    gpxMiB: Math.round((gpx.byteLength / MiB) * 10) / 10,
    points: parse.result,
    parsePeakRssMiB: parse.rss,
    parsePeakHeapMiB: parse.heap,
    importPeakRssMiB: imp.rss,
    importPeakHeapMiB: imp.heap,
    importErrors: imp.result.errors.length,
  }),
);
