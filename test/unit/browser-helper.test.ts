/**
 * The browser harness itself: a real Chromium sees what a page requests and logs, and axe-core
 * finds a real accessibility fault (so a page that passes it was really checked).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  axeViolations,
  browserAvailable,
  launchBrowser,
  screenshot,
  serious,
  watchedPage,
} from '../helpers/browser.ts';

const BAD = `<!doctype html><html><head><title>t</title></head><body>
<img src="/pixel.png"><script>console.error('boom')</script></body></html>`;
const GOOD = `<!doctype html><html lang="en"><head><title>ok</title></head><body>
<main><h1>Fine</h1><p>Readable text.</p></main></body></html>`;

describe.skipIf(!browserAvailable())('headless Chromium harness', () => {
  let browser: Browser;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    browser = await launchBrowser();
    server = createServer((req, res) => {
      if (req.url === '/bad') res.end(BAD);
      else if (req.url === '/good') res.end(GOOD);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  it('records console errors and every request, and axe flags an image without alt text', async () => {
    const w = await watchedPage(browser);
    await w.page.goto(`${base}/bad`);
    expect(w.errors.some((e) => e.includes('boom'))).toBe(true);
    expect(w.requests).toContain(`${base}/pixel.png`);
    const v = await axeViolations(w.page);
    expect(serious(v).map((x) => x.id)).toContain('image-alt');
    await w.page.context().close();
  });

  it('a clean page has no errors, one request and no serious violations; a screenshot is written', async () => {
    const w = await watchedPage(browser);
    await w.page.goto(`${base}/good`);
    expect(w.errors).toEqual([]);
    expect(w.requests).toEqual([`${base}/good`]);
    expect(serious(await axeViolations(w.page))).toEqual([]);
    const png = await screenshot(w.page, 'harness-good');
    expect(png.endsWith('.png')).toBe(true);
    await w.page.context().close();
  });
});
