/**
 * The HTML report in a real headless Chromium: the demo's archive (built by `rk-sync demo`,
 * whose last line names the report) and a ZIP-only archive with hostile notes (built by
 * `rk-sync import`). No console error, no request beyond the file, the numbers equal the
 * index, filtering, sorting and the km/mi switch work, an activity draws its route and charts,
 * axe-core finds nothing serious, hostile text stays text under a strict CSP, and map tiles
 * are requested only when asked for (from a loopback tile server).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexRow } from '../../functions/core/export/index-row.ts';
import { startSimulator } from '../../simulator/server.ts';
import { exportZipFrom } from '../fixtures/export-zip.ts';
import {
  axeViolations,
  browserAvailable,
  launchBrowser,
  screenshot,
  serious,
  type WatchedPage,
  watchedPage,
} from '../helpers/browser.ts';
import { runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'rk-report-'));
const HOSTILE = [
  '</script><script>window.__pwned = 1</script>',
  '<img src=x onerror="window.__pwned = 2"> & <b>bold</b> <!--',
  'שלום עולם — مرحبا بالعالم (RTL)',
  'Sunrise run 🏃‍♀️🔥 with 👨‍👩‍👧',
];

function indexRows(dataDir: string, userId: string): IndexRow[] {
  return readFileSync(join(dataDir, 'index', userId, 'activities.ndjson'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as IndexRow)
    .filter((r) => !r.deleted);
}

async function open(w: WatchedPage, file: string, hash = ''): Promise<void> {
  await w.page.goto(`${pathToFileURL(file).href}${hash}`);
  await w.page.waitForSelector('body[data-ready]');
}

/** Requests other than the report file itself. */
const foreign = (w: WatchedPage, file: string) =>
  w.requests.filter((u) => u.split('#')[0] !== pathToFileURL(file).href);

const num = async (page: Page, sel: string) => Number(await page.getAttribute(sel, 'data-value'));

describe.skipIf(!browserAvailable())('HTML report in headless Chromium', () => {
  let browser: Browser;
  let demo: { dataDir: string; userId: string; file: string; stdout: string };
  let zip: { dataDir: string; file: string };
  let tiles: Server;
  const tileHits: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    // The demo archive, through the real CLI.
    const dataDir = join(dir, 'demo');
    const r = await runCli(
      ['demo', '--data-dir', dataDir, '--activities', '300', '--duration', '10'],
      {},
      170_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const last = r.stdout.trim().split('\n').at(-1)!;
    const file = /report:\s+(\S+index\.html)$/.exec(last)?.[1];
    expect(file, last).toBeDefined();
    demo = { dataDir, userId: file!.split('/').at(-2)!, file: file!, stdout: r.stdout };

    // A ZIP-only archive (no account: user 0) with hostile notes.
    const sim = await startSimulator({ activities: 24, seed: 5 });
    const uid = sim.users[0]!.userId;
    const docs = sim
      .activityIds(uid)
      .map((id) => sim.document(uid, 'fitnessActivities', id) as Record<string, unknown>);
    await sim.close();
    HOSTILE.forEach((n, i) => {
      docs[i]!.notes = n;
    });
    const zipFile = join(dir, 'export.zip');
    writeFileSync(zipFile, exportZipFrom(docs).zip);
    const zipDir = join(dir, 'zip');
    const imp = await runCli(['--data-dir', zipDir, 'import', zipFile], {}, 60_000);
    expect(imp.code, imp.stderr).toBe(0);
    zip = { dataDir: zipDir, file: join(zipDir, 'report', '0', 'index.html') };

    tiles = createServer((req, res) => {
      tileHits.push(req.url ?? '');
      res.setHeader('content-type', 'image/png');
      // 1×1 transparent PNG
      res.end(
        Buffer.from(
          'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
          'base64',
        ),
      );
    });
    await new Promise<void>((res) => tiles.listen(0, '127.0.0.1', res));
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => tiles?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('the demo prints the report path last; the overview shows the index numbers offline', async () => {
    expect(existsSync(demo.file)).toBe(true);
    const rows = indexRows(demo.dataDir, demo.userId);
    expect(rows.length).toBeGreaterThan(250);
    const w = await watchedPage(browser);
    await open(w, demo.file);
    expect(await num(w.page, '#total-count')).toBe(rows.length);
    const dist = rows.reduce((s, r) => s + r.distanceMeters, 0);
    expect(await num(w.page, '#total-distance')).toBeCloseTo(dist, 3);
    const moving = rows.reduce((s, r) => s + r.durationSeconds, 0);
    expect(await num(w.page, '#total-moving')).toBeCloseTo(moving, 3);
    const km = (await w.page.textContent('#total-distance'))!;
    expect(km).toBe(
      `${(dist / 1000).toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} km`,
    );
    // Per year, by the local start date.
    for (const year of new Set(rows.map((r) => r.localStart.slice(0, 4)))) {
      const n = rows.filter((r) => r.localStart.startsWith(year)).length;
      expect(await num(w.page, `#by-year tr[data-key="${year}"] td:nth-of-type(1)`)).toBe(n);
    }
    // Calendar cells count activities per local day.
    const days = await w.page.$$eval('svg.calendar rect[data-count]:not([data-count="0"])', (els) =>
      els.reduce((s, e) => s + Number(e.getAttribute('data-count')), 0),
    );
    const year = (await w.page.inputValue('#calendar-year'))!;
    expect(days).toBe(rows.filter((r) => r.localStart.startsWith(year)).length);
    // km → mi
    await w.page.check('#unit-mi');
    expect(await w.page.textContent('#total-distance')).toBe(
      `${(dist / 1609.344).toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} mi`,
    );
    await w.page.check('#unit-km');
    expect(serious(await axeViolations(w.page))).toEqual([]);
    await screenshot(w.page, 'report-demo-overview');
    expect(w.errors).toEqual([]);
    expect(foreign(w, demo.file)).toEqual([]);
    await w.page.context().close();
  });

  it('the table filters by type and year, searches notes, sorts, and links each file', async () => {
    const rows = indexRows(demo.dataDir, demo.userId);
    const w = await watchedPage(browser);
    await open(w, demo.file, '#activities');
    expect(await num(w.page, '#table-count')).toBe(rows.length);
    await w.page.selectOption('#filter-type', 'Running');
    const running = rows.filter((r) => r.type === 'Running');
    expect(await num(w.page, '#table-count')).toBe(running.length);
    const year = running[0]!.localStart.slice(0, 4);
    await w.page.selectOption('#filter-year', year);
    expect(await num(w.page, '#table-count')).toBe(
      running.filter((r) => r.localStart.startsWith(year)).length,
    );
    await w.page.selectOption('#filter-type', '');
    await w.page.selectOption('#filter-year', '');
    // Sort by distance: first click descending... the first row is the longest, then the shortest.
    const firstId = () => w.page.getAttribute('#activities tbody tr', 'data-id');
    const dist = (id: string | null) => rows.find((r) => r.id === id)!.distanceMeters;
    const max = Math.max(...rows.map((r) => r.distanceMeters));
    const min = Math.min(...rows.map((r) => r.distanceMeters));
    await w.page.click('button[data-sort="distance"]');
    const sortedOnce = dist(await firstId());
    await w.page.click('button[data-sort="distance"]');
    const sortedTwice = dist(await firstId());
    expect([sortedOnce, sortedTwice].sort((a, b) => a - b)).toEqual([min, max]);
    expect(await w.page.getAttribute('th:has(button[data-sort="distance"])', 'aria-sort')).toBe(
      sortedTwice === max ? 'descending' : 'ascending',
    );
    // Back to date: newest first, as in the index.
    await w.page.click('button[data-sort="local"]');
    expect(await w.page.getAttribute('th:has(button[data-sort="local"])', 'aria-sort')).toBe(
      'descending',
    );
    const order = await w.page.$$eval('#activities tbody tr', (trs) =>
      trs.map((t) => t.getAttribute('data-id')),
    );
    const newest = [...rows].sort((a, b) => b.localStart.localeCompare(a.localStart));
    expect(order[0]).toBe(newest[0]!.id);
    expect(order).toHaveLength(Math.min(100, rows.length));
    // Each row links to its files, relative to the report (works from file://).
    const r0 = newest[0]!;
    const links = await w.page.$$eval(`tr[data-id="${r0.id}"] a[data-file]`, (as) =>
      as.map((a) => [a.getAttribute('data-file'), (a as HTMLAnchorElement).href]),
    );
    const base = pathToFileURL(demo.dataDir).href;
    expect(Object.fromEntries(links)).toMatchObject({
      raw: `${base}/${r0.keys.raw}`,
      tcx: `${base}/${r0.keys.tcx}`,
      geojson: `${base}/${r0.keys.geojson}`,
    });
    for (const [, href] of links) expect(existsSync(new URL(href!))).toBe(true);
    expect(serious(await axeViolations(w.page))).toEqual([]);
    await screenshot(w.page, 'report-demo-table');
    expect(w.errors).toEqual([]);
    expect(foreign(w, demo.file)).toEqual([]);
    await w.page.context().close();
  });

  it('an activity draws its route to scale, speed/HR/elevation charts with pauses, and splits', async () => {
    const rows = indexRows(demo.dataDir, demo.userId);
    const a = rows.find((r) => r.hasPath && r.distanceMeters > 3000 && r.averageHeartRate)!;
    expect(a).toBeDefined();
    const w = await watchedPage(browser);
    await open(w, demo.file, `#activity/${a.id}`);
    expect(await w.page.textContent('#act-start')).toContain(
      `${a.localStart.slice(0, 16).replace('T', ' ')}${a.timeZone ? ` ${a.timeZone}` : ''}`,
    );
    // The route canvas has red route pixels on it.
    const red = await w.page.$eval('#route', (c) => {
      const ctx = (c as HTMLCanvasElement).getContext('2d')!;
      const { data } = ctx.getImageData(
        0,
        0,
        (c as HTMLCanvasElement).width,
        (c as HTMLCanvasElement).height,
      );
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i]! > 150 && data[i + 1]! < 90) n++;
      return n;
    });
    expect(red).toBeGreaterThan(200);
    expect(await w.page.getAttribute('#route', 'aria-label')).toMatch(
      /drawn to scale \(scale bar [0-9.]+ km\)/,
    );
    const charts = await w.page.$$eval('figure.chart', (fs) =>
      fs.map((f) => f.getAttribute('data-chart')),
    );
    expect(charts).toEqual(expect.arrayContaining(['Speed', 'Heart rate']));
    expect(await w.page.locator('figure.chart canvas').count()).toBe(charts.length);
    const splits = await w.page.locator('#splits tbody tr').count();
    expect(splits).toBeGreaterThanOrEqual(Math.floor(a.distanceMeters / 1000));
    expect(splits).toBeLessThanOrEqual(Math.floor(a.distanceMeters / 1000) + 1);
    await w.page.check('#axis-time');
    expect(await w.page.locator('figure.chart').count()).toBe(charts.length);
    await w.page.check('#unit-mi');
    const miles = await w.page.locator('#splits tbody tr').count();
    expect(miles).toBeLessThanOrEqual(Math.floor(a.distanceMeters / 1609.344) + 1);
    expect(await w.page.textContent('#act-distance')).toMatch(/ mi$/);
    await w.page.check('#unit-km');
    expect(serious(await axeViolations(w.page))).toEqual([]);
    await screenshot(w.page, 'report-demo-activity');
    expect(w.errors).toEqual([]);
    expect(foreign(w, demo.file)).toEqual([]);
    await w.page.context().close();
  });

  it('the heatmap draws every route of the busiest region', async () => {
    const w = await watchedPage(browser);
    await open(w, demo.file, '#map');
    const drawn = await num(w.page, '#heatmap-count');
    const first = (await w.page.textContent('#region option'))!;
    expect(drawn).toBe(Number(/\((\d+) routes?\)/.exec(first)![1]));
    expect(drawn).toBeGreaterThan(10);
    const lit = await w.page.$eval('#heatmap', (c) => {
      const ctx = (c as HTMLCanvasElement).getContext('2d')!;
      const { data } = ctx.getImageData(0, 0, 900, 560);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i]! > 100) n++;
      return n;
    });
    expect(lit).toBeGreaterThan(1000);
    expect(serious(await axeViolations(w.page))).toEqual([]);
    await screenshot(w.page, 'report-demo-heatmap');
    expect(w.errors).toEqual([]);
    expect(foreign(w, demo.file)).toEqual([]);
    await w.page.context().close();
  });

  it('a ZIP-only archive: hostile notes are shown as text and never run (strict CSP)', async () => {
    const rows = indexRows(zip.dataDir, '0');
    const w = await watchedPage(browser);
    await open(w, zip.file, '#activities');
    expect(await num(w.page, '#table-count')).toBe(rows.length);
    expect(rows.every((r) => r.source === 'zip')).toBe(true);
    const html = readFileSync(zip.file, 'utf8');
    expect(html).toMatch(
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-/,
    );
    for (const note of HOSTILE) {
      await w.page.fill('#search', note.slice(0, 12));
      expect(await num(w.page, '#table-count')).toBeGreaterThanOrEqual(1);
      const cell = await w.page.textContent('#activities tbody tr td.notes');
      expect(cell).toBe(note);
    }
    await w.page.fill('#search', HOSTILE[1]!.slice(0, 12));
    await w.page.click('#activities tbody tr a');
    await w.page.waitForSelector('#act-notes');
    expect(await w.page.textContent('#act-notes')).toBe(HOSTILE[1]);
    expect(await w.page.locator('main img, main b, main script').count()).toBe(0);
    expect(
      await w.page.evaluate(() => (globalThis as { __pwned?: number }).__pwned),
    ).toBeUndefined();
    expect(serious(await axeViolations(w.page))).toEqual([]);
    await screenshot(w.page, 'report-zip-hostile');
    expect(w.errors).toEqual([]);
    // The CSP blocks any script that is not the page's own, even one added at run time.
    const ran = await w.page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = '(globalThis).__injected = 1';
      document.body.append(s);
      return (globalThis as { __injected?: number }).__injected;
    });
    expect(ran).toBeUndefined();
    expect(w.errors.join('\n')).toMatch(/Content Security Policy/);
    expect(foreign(w, zip.file)).toEqual([]);
    await w.page.context().close();
  });

  it('--tiles adds a background map from that origin only; without it nothing is requested', async () => {
    const port = (tiles.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${port}/{z}/{x}/{y}.png`;
    const r = await runCli(['--data-dir', zip.dataDir, '--json', 'report', '--tiles', url]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out.reports[0]).toMatchObject({ userId: '0', path: zip.file });
    const row = indexRows(zip.dataDir, '0').find((x) => x.hasPath)!;
    const w = await watchedPage(browser);
    await open(w, zip.file, `#activity/${row.id}`);
    await w.page.waitForFunction(() => true);
    await expect.poll(() => tileHits.length).toBeGreaterThan(0);
    expect(tileHits.every((u) => /^\/\d+\/\d+\/\d+\.png$/.test(u))).toBe(true);
    expect(foreign(w, zip.file).every((u) => u.startsWith(`http://127.0.0.1:${port}/`))).toBe(true);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
    // Only http(s) templates with {z}/{x}/{y} are accepted.
    const bad = await runCli([
      '--data-dir',
      zip.dataDir,
      'report',
      '--tiles',
      'javascript:x//{z}{x}{y}',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('rk-sync: --tiles must be an http(s) URL with {z}, {x} and {y}');
    // Rebuilt without --tiles: back to no request at all. (--open without a display says where it is.)
    const again = await runCli(['--data-dir', zip.dataDir, 'report', '--open'], {
      DISPLAY: '',
      WAYLAND_DISPLAY: '',
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`could not open a browser; open ${zip.file}`);
    expect(again.stdout).toMatch(/report of user 0: \d+ activities/);
    const before = tileHits.length;
    const w2 = await watchedPage(browser);
    await open(w2, zip.file, `#activity/${row.id}`);
    expect(foreign(w2, zip.file)).toEqual([]);
    expect(tileHits.length).toBe(before);
    await w2.page.context().close();
  });
});
