/**
 * A real headless Chromium (Debian's package, driven by playwright-core) for everything a
 * person looks at: the OAuth pages, the HTML report. Each page records its console errors,
 * page errors and every network request, can be checked with axe-core, and screenshots go to
 * .tmp/artifacts/screenshots as test artifacts.
 *
 * Tests that need it use `describe.skipIf(!browserAvailable())` (Chromium missing and not
 * root: scripts/system-tools.ts prints why).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.RK_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(
  import.meta.dirname,
  '..',
  '..',
  '.tmp',
  'artifacts',
  'screenshots',
);

export function browserAvailable(): boolean {
  return existsSync(CHROMIUM);
}

/** Flags that keep Chromium from calling home (the machine has no network but the registries). */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

export interface WatchedPage {
  page: Page;
  /** console.error messages and uncaught page errors, in order. */
  errors: string[];
  /** every request URL the page made (including the first navigation). */
  requests: string[];
}

/** A fresh page (its own context) that records errors and requests from the first byte. */
export async function watchedPage(
  browser: Browser,
  viewport = { width: 1280, height: 900 },
): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  return { page, errors, requests };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name.replace(/[^a-z0-9._-]+/gi, '-')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: number;
}

/**
 * Runs axe-core in the page. Its source goes in through the DevTools protocol's evaluate,
 * which a page's Content-Security-Policy does not block (a strict CSP page stays testable).
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  const require = createRequire(import.meta.url);
  const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  // evaluate() runs in the page's main world through the DevTools protocol: not subject to CSP.
  await page.evaluate(source);
  const result = (await page.evaluate(() => {
    // axe is the page global the script above defined; document is the page's own.
    const g = globalThis as unknown as {
      axe: { run(ctx: unknown, opts: unknown): Promise<unknown> };
      document: unknown;
    };
    return g.axe.run(g.document, { resultTypes: ['violations'] });
  })) as { violations: { id: string; impact: string | null; help: string; nodes: unknown[] }[] };
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.length,
  }));
}

/** Violations a person would be hurt by: axe's "serious" and "critical". */
export function serious(v: AxeViolation[]): AxeViolation[] {
  return v.filter((x) => x.impact === 'serious' || x.impact === 'critical');
}
