/**
 * The HTML report's budgets: 5,000 activities of ~3,000 GPS points each (with heart rate,
 * distance and elevation per point, one pause), built into one file, then opened in headless
 * Chromium. Measures the file size, the build time, first contentful paint and the time until
 * the activity table is interactive (and one sort), side by side with a page that renders the
 * index CSV alone. Writes bench/report-results.json.
 *
 *   node bench/report.ts [--activities 5000] [--points 3000]      (npm run bench runs it too)
 *
 * The synthetic archive is written with string templates straight into an in-memory store
 * (about 2.5 GB of raw JSON for the full size); 120 distinct tracks are generated and reused
 * under new ids, dates and notes, so generating 5,000 costs little beyond the bytes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ReportWorkers } from '../functions/adapters/local/report-workers.ts';
import { CSV_HEADER, type IndexRow, toCsvLine } from '../functions/core/export/index-row.ts';
import type { ObjectStore, PutResult } from '../functions/core/ports.ts';
import { buildReport } from '../functions/core/report/build.ts';
import { mulberry32 } from '../simulator/util.ts';
import { launchBrowser, watchedPage } from '../test/helpers/browser.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('activities', 5000);
const POINTS = arg('points', 3000);
const USER = '4242';
const root = join(import.meta.dirname, '..');
const log = (m: string) => console.error(`[bench:report] ${m}`);

/** Just enough of an ObjectStore: a Map of bytes. */
class MapStore implements ObjectStore {
  readonly m = new Map<string, Uint8Array>();
  async put(key: string, body: Uint8Array): Promise<PutResult> {
    this.m.set(key, body);
    return { written: true };
  }
  async get(key: string) {
    return this.m.get(key);
  }
  async hash() {
    return undefined;
  }
  async *list(prefix: string) {
    for (const k of this.m.keys()) if (k.startsWith(prefix)) yield k;
  }
}

const CITIES = [
  [52.37, 4.89, 'Europe/Amsterdam', 1],
  [40.71, -74.0, 'America/New_York', -5],
  [-33.87, 151.21, 'Australia/Sydney', 10],
] as const;
const TYPES = ['Running', 'Cycling', 'Walking', 'Hiking'];

const pad = (n: number) => String(n).padStart(2, '0');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Distinct tracks; activity i reuses track i % SHAPES (same city and type), so 5,000 are quick. */
const SHAPES = 120;
const shapes = new Map<number, { streams: string; d: number; t: number }>();

/** The path, heart-rate and distance streams of track `n` as JSON text. */
function shape(n: number): { streams: string; d: number; t: number } {
  const cached = shapes.get(n);
  if (cached) return cached;
  const r = mulberry32(n + 1);
  const [lat0, lon0] = CITIES[n % 3]!;
  const type = TYPES[n % TYPES.length]!;
  const speed = type === 'Cycling' ? 7 : type === 'Running' ? 3 : 1.4;
  const path: string[] = [];
  const hr: string[] = [];
  const dist: string[] = [];
  let lat = lat0 + (r() - 0.5) * 0.1;
  let lon = lon0 + (r() - 0.5) * 0.1;
  let heading = r() * 2 * Math.PI;
  let t = 0;
  let d = 0;
  const pauseAt = Math.floor(POINTS / 3);
  const cos = Math.cos((lat0 * Math.PI) / 180);
  for (let k = 0; k < POINTS; k++) {
    if (k > 0) {
      const dt = k === pauseAt + 1 ? 120 : 2;
      t += dt;
      if (k !== pauseAt + 1) {
        heading += (r() - 0.5) * 0.3;
        const step = speed * dt;
        d += step;
        lat += (Math.cos(heading) * step) / 111_320;
        lon += (Math.sin(heading) * step) / (111_320 * cos);
      }
    }
    const ptype =
      k === 0
        ? 'start'
        : k === POINTS - 1
          ? 'end'
          : k === pauseAt
            ? 'pause'
            : k === pauseAt + 1
              ? 'resume'
              : 'gps';
    path.push(
      `{"timestamp":${t},"altitude":${(20 + 10 * Math.sin(k / 200)).toFixed(1)},"longitude":${lon.toFixed(6)},"latitude":${lat.toFixed(6)},"type":"${ptype}"}`,
    );
    hr.push(
      `{"timestamp":${t},"heart_rate":${120 + Math.round(30 * Math.sin(k / 300) + r() * 5)}}`,
    );
    dist.push(`{"timestamp":${t},"distance":${d.toFixed(1)}}`);
  }
  const s = {
    streams: `"path":[${path.join(',')}],"heart_rate":[${hr.join(',')}],"distance":[${dist.join(',')}]`,
    d,
    t,
  };
  shapes.set(n, s);
  return s;
}

/** One raw activity (API shape) as JSON text, and its index row. */
function activity(i: number): { json: string; row: IndexRow } {
  const r = mulberry32(i + 7);
  const [, , zone, offset] = CITIES[i % 3]!;
  const type = TYPES[i % TYPES.length]!;
  const { streams, d, t } = shape(i % SHAPES);
  const local = new Date(Date.UTC(2012, 0, 1, 6) + i * 0.9 * 86_400_000 + r() * 3_600_000);
  const startTime = `${DAYS[local.getUTCDay()]}, ${local.getUTCDate()} ${MONTHS[local.getUTCMonth()]} ${local.getUTCFullYear()} ${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  const id = String(100_000_000 + i);
  const json = `{"uri":"/fitnessActivities/${id}","userID":${USER},"type":"${type}","equipment":"None","start_time":"${startTime}","utc_offset":${offset},"total_distance":${d.toFixed(1)},"duration":${t - 120},"average_heart_rate":135,"total_calories":${Math.round(d / 15)},"climb":${Math.round(r() * 200)},"notes":"Session ${i} — notes with <b>markup</b> & emoji 🏃","source":"RunKeeper","entry_mode":"API","has_path":true,"is_live":false,${streams},"calories":[],"images":[]}`;
  const iso = local.toISOString().slice(0, 19);
  const utc = new Date(local.getTime() - offset * 3_600_000).toISOString();
  const key = (kind: string, ext: string) => `${kind}/${USER}/fitnessActivities/${id}.${ext}`;
  const row: IndexRow = {
    id,
    source: 'api',
    utcStart: utc,
    localStart: iso,
    utcOffset: offset,
    timeZone: zone,
    type,
    distanceMeters: Math.round(d * 10) / 10,
    durationSeconds: t - 120,
    movingSeconds: t - 120,
    elapsedSeconds: t,
    calories: Math.round(d / 15),
    averageHeartRate: 135,
    climbMeters: undefined,
    entryMode: 'API',
    hasPath: true,
    deleted: false,
    name: undefined,
    notes: `Session ${i} — notes with <b>markup</b> & emoji 🏃`,
    keys: {
      raw: key('raw', 'json'),
      gpx: key('gpx', 'gpx'),
      tcx: key('tcx', 'tcx'),
      geojson: key('geojson', 'geojson'),
    },
    flags: [],
  };
  return { json, row };
}

// ---------------------------------------------------------------- generate

const enc = new TextEncoder();
const store = new MapStore();
let t0 = performance.now();
const rows: IndexRow[] = [];
let rawBytes = 0;
for (let i = 0; i < N; i++) {
  const { json, row } = activity(i);
  const bytes = enc.encode(json);
  rawBytes += bytes.byteLength;
  await store.put(row.keys.raw, bytes);
  rows.push(row);
}
rows.sort((a, b) => b.localStart.localeCompare(a.localStart));
const ndjson = `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
await store.put(`index/${USER}/activities.ndjson`, enc.encode(ndjson));
const csv = `${[CSV_HEADER, ...rows.map(toCsvLine)].join('\r\n')}\r\n`;
log(
  `generated ${N} activities × ${POINTS} points (${(rawBytes / 1e9).toFixed(2)} GB raw JSON) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

// ---------------------------------------------------------------- build

// As the CLI builds it: raw documents prepared on one worker thread per core.
t0 = performance.now();
const cpu0 = process.cpuUsage();
const workers = new ReportWorkers();
const built = await buildReport(store, USER, {
  now: new Date().toISOString(),
  prepare: workers.prepare,
});
await workers.close();
const buildSeconds = (performance.now() - t0) / 1000;
// CPU time of every thread of this process: the figure other work on the machine cannot inflate.
const cpu = process.cpuUsage(cpu0);
const buildCpuSeconds = (cpu.user + cpu.system) / 1e6;
log(
  `built ${built.activities} activities into ${(built.bytes / 1e6).toFixed(1)} MB in ${buildSeconds.toFixed(1)} s (${buildCpuSeconds.toFixed(1)} CPU s, load ${loadavg()[0]?.toFixed(1)})`,
);
const out = join(root, '.tmp', 'bench-report');
mkdirSync(out, { recursive: true });
const reportFile = join(out, 'report.html');
writeFileSync(reportFile, store.m.get(built.key)!);
store.m.clear();

/** The baseline: the index CSV alone, parsed and rendered as one plain table. */
const csvPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>index CSV</title></head><body>
<script type="text/csv" id="csv">${csv.replace(/</g, '&lt;')}</script>
<table id="t"></table>
<script>
const lines = document.getElementById('csv').textContent.trim().split('\\r\\n');
const t = document.getElementById('t');
const frag = document.createDocumentFragment();
for (const line of lines) {
  const tr = document.createElement('tr');
  for (const cell of line.split(',')) { const td = document.createElement('td'); td.textContent = cell; tr.append(td); }
  frag.append(tr);
}
t.append(frag);
document.body.dataset.ready = 'true';
performance.mark('rk-interactive');
</script></body></html>`;
const csvFile = join(out, 'index-csv.html');
writeFileSync(csvFile, csvPage);

// ---------------------------------------------------------------- open in Chromium

interface PageTiming {
  firstContentfulPaintMs: number;
  /** The page's own mark after its first render: the table answers clicks from here. */
  interactiveMs: number;
  /** The load event: every block parsed, every activity can open. */
  loadMs: number;
  sortMs?: number;
}

async function timePage(file: string, hash: string, sort: boolean): Promise<PageTiming> {
  const browser = await launchBrowser();
  try {
    const w = await watchedPage(browser);
    await w.page.goto(`${pathToFileURL(file).href}${hash}`, { timeout: 120_000 });
    const t = await w.page.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime;
      const mark = performance.getEntriesByName('rk-interactive')[0]?.startTime;
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return {
        fcp: fcp ?? Number.NaN,
        interactive: mark ?? nav.domInteractive,
        load: nav.loadEventStart,
      };
    });
    let sortMs: number | undefined;
    if (sort) {
      sortMs = await w.page.evaluate(async () => {
        const b = document.querySelector('button[data-sort="distance"]') as HTMLButtonElement;
        const s = performance.now();
        b.click();
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        return performance.now() - s;
      });
    }
    if (w.errors.length > 0) throw new Error(`page errors: ${w.errors.join('; ')}`);
    return {
      firstContentfulPaintMs: t.fcp,
      interactiveMs: t.interactive,
      loadMs: t.load,
      ...(sortMs === undefined ? {} : { sortMs }),
    };
  } finally {
    await browser.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function repeat(file: string, hash: string, sort: boolean, n = 3): Promise<PageTiming> {
  const runs: PageTiming[] = [];
  for (let i = 0; i < n; i++) runs.push(await timePage(file, hash, sort));
  return {
    firstContentfulPaintMs: Math.round(median(runs.map((r) => r.firstContentfulPaintMs))),
    interactiveMs: Math.round(median(runs.map((r) => r.interactiveMs))),
    loadMs: Math.round(median(runs.map((r) => r.loadMs))),
    ...(sort ? { sortMs: Math.round(median(runs.map((r) => r.sortMs ?? 0))) } : {}),
  };
}

log('timing the report (table view) and the CSV-only page in headless Chromium');
const report = await repeat(reportFile, '#activities', true);
const csvOnly = await repeat(csvFile, '', false);
const result = {
  activities: N,
  pointsPerActivity: POINTS,
  rawGigabytes: Math.round(rawBytes / 1e7) / 100,
  fileMegabytes: Math.round(built.bytes / 1e5) / 10,
  csvPageMegabytes: Math.round(csvPage.length / 1e5) / 10,
  buildSeconds: Math.round(buildSeconds * 10) / 10,
  buildCpuSeconds: Math.round(buildCpuSeconds * 10) / 10,
  loadAverage: Math.round((loadavg()[0] ?? 0) * 10) / 10,
  report,
  csvOnly,
  ratio: {
    firstContentfulPaint:
      Math.round((report.firstContentfulPaintMs / csvOnly.firstContentfulPaintMs) * 100) / 100,
    interactive: Math.round((report.interactiveMs / csvOnly.interactiveMs) * 100) / 100,
    load: Math.round((report.loadMs / csvOnly.loadMs) * 100) / 100,
    size: Math.round((built.bytes / csvPage.length) * 10) / 10,
  },
  budgets: {
    fileMegabytes: 25,
    buildSeconds: 60,
    interactiveMs: 2000,
  },
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '' },
};
const ok =
  result.fileMegabytes <= 25 &&
  result.buildSeconds <= 60 &&
  report.interactiveMs <= 2000 &&
  report.firstContentfulPaintMs <= 2000;
writeFileSync(
  join(root, 'bench', 'report-results.json'),
  `${JSON.stringify({ ...result, ok }, null, 2)}\n`,
);
console.log(JSON.stringify({ ...result, ok }));
if (!ok) process.exitCode = 1;
