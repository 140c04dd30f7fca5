/**
 * The README's picture of the report: opens a built report in headless Chromium (the test
 * harness's) on one activity and writes a PNG.
 * Usage: node scripts/report-screenshot.ts rk-data/demo/report/<userId>/index.html [docs/report.png]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchBrowser, watchedPage } from '../test/helpers/browser.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: node scripts/report-screenshot.ts <report.html> [out.png]');
const out = process.argv[3] ?? join(import.meta.dirname, '..', 'docs', 'report.png');
const data = JSON.parse(
  /<script type="application\/json" id="rk-data">([^<]*)<\/script>/.exec(
    readFileSync(file, 'utf8'),
  )?.[1] ?? '{}',
) as { activities?: { id: string; type: string; detail: boolean; distance: number }[] };
const pick = data.activities?.find((a) => a.detail && a.type === 'Running' && a.distance > 8000);
const browser = await launchBrowser();
try {
  const w = await watchedPage(browser, { width: 1100, height: 1350 });
  await w.page.goto(`${pathToFileURL(file).href}${pick ? `#activity/${pick.id}` : ''}`);
  await w.page.waitForSelector('body[data-ready]');
  await w.page.screenshot({ path: out });
  console.log(out);
} finally {
  await browser.close();
}
