/**
 * Issue 18: the OAuth pages are what a person sees first. A real headless Chromium drives the
 * real `rk-sync auth` (loopback pages, cli/auth.ts) through the simulator's consent page, and
 * loads the AWS callback's result pages (functions/shared/app/callback.ts) as served with their
 * headers. Each page: the app's name, what happened, the next step; no console error, no
 * request beyond the page itself, no serious axe-core violation; screenshots in
 * .tmp/artifacts/screenshots.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MemoryAccountStore,
  MemoryAuthStateStore,
  MemoryTokenStore,
} from '../../functions/adapters/memory/index.ts';
import { memoryBudget } from '../../functions/core/budget.ts';
import { ManualClock } from '../../functions/core/clock.ts';
import { createCallbackHandler } from '../../functions/shared/app/callback.ts';
import { parseEnv } from '../../functions/shared/env.ts';
import type { HttpResult } from '../../functions/shared/http.ts';
import type { AwsClients, Platform } from '../../functions/shared/platform.ts';
import { type Simulator, startSimulator } from '../../simulator/server.ts';
import {
  axeViolations,
  browserAvailable,
  launchBrowser,
  screenshot,
  serious,
  watchedPage,
} from '../helpers/browser.ts';
import { killAllChildren, spawnAuth } from '../helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'rk-pages-'));
let browser: Browser;
let sim: Simulator;
let dirs = 0;

beforeAll(async () => {
  if (!browserAvailable()) return;
  browser = await launchBrowser();
  sim = await startSimulator({ activities: 5, seed: 3 });
});
afterAll(async () => {
  killAllChildren();
  await browser?.close();
  await sim?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** `rk-sync auth` waiting for the browser, in a fresh data directory. */
async function startAuth() {
  const dataDir = join(tmp, `d${++dirs}`);
  return { ...(await spawnAuth(sim, dataDir)), dataDir };
}

/** What every page must be: named, readable, self-contained, accessible. */
async function checkPage(
  w: Awaited<ReturnType<typeof watchedPage>>,
  name: string,
  origin: string,
): Promise<string> {
  const { page } = w;
  expect(await page.locator('header').textContent()).toContain('rk-sync');
  expect(await page.title()).toMatch(/ · rk-sync$/);
  // Chromium logs a failed status for an error page's own document (400 on purpose) and for
  // its favicon probe; anything else (a script error, a blocked resource) fails the page.
  const loadStatus = /^Failed to load resource: the server responded with a status of 4\d\d/;
  expect(w.errors.filter((e) => !loadStatus.test(e))).toEqual([]);
  // Nothing fetched beyond the pages themselves (no font, image or stylesheet from elsewhere).
  const own = (u: string) => u.startsWith(origin) || u.startsWith(sim.authBaseUrl);
  expect(w.requests.filter((u) => !own(u))).toEqual([]);
  expect(w.requests.filter((u) => /\.(css|js)(\?|$)/.test(u))).toEqual([]);
  expect(serious(await axeViolations(page))).toEqual([]);
  await screenshot(page, name);
  // The stylesheet applies (the card is styled, not the browser's default page).
  const stripe = await page
    .locator('main')
    .evaluate(
      (el) =>
        (
          globalThis as unknown as { getComputedStyle(e: unknown): { borderTopWidth: string } }
        ).getComputedStyle(el).borderTopWidth,
    );
  expect(stripe).not.toBe('0px');
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person reads
  return page.locator('main').innerText();
}

const loopback = (p: Page) => new URL(p.url()).origin;

describe.skipIf(!browserAvailable())('OAuth pages in headless Chromium (issue 18)', () => {
  it('rk-sync auth → Approve: the account linked, the first sync to run, where the files go', async () => {
    const { run, url, dataDir } = await startAuth();
    const w = await watchedPage(browser);
    await w.page.goto(url);
    await w.page.getByRole('button', { name: 'Approve' }).click();
    await w.page.waitForURL(/127\.0\.0\.1:\d+\/callback/);
    await w.page.getByRole('heading', { name: 'Runkeeper account linked' }).waitFor();
    const text = await checkPage(w, 'auth-local-linked', loopback(w.page));
    const { code } = await run.exited;
    expect(code).toBe(0);
    const userId = /authorised Runkeeper user (\d+)/.exec(run.stdout())?.[1];
    expect(text).toContain(`Account: Runkeeper user ${userId}`);
    expect(text).toContain(
      `rk-sync can now back up this account from ${new URL(sim.authBaseUrl).host}.`,
    );
    expect(text).toContain(
      `Back in the terminal, run npx rk-sync sync --data-dir ${dataDir}: the first backup starts at once and shows its progress.`,
    );
    expect(text).toContain(`Files go to ${join(dataDir, 'raw', userId!, 'fitnessActivities')}`);
    await w.page.context().close();
  }, 60_000);

  it('rk-sync auth → Deny: the real host and "run rk-sync auth again", on the page and in the terminal', async () => {
    const { run, url } = await startAuth();
    const host = new URL(sim.authBaseUrl).host;
    const w = await watchedPage(browser);
    await w.page.goto(url);
    await w.page.getByRole('button', { name: 'Deny' }).click();
    await w.page.getByRole('heading', { name: 'Access was not granted' }).waitFor();
    const text = await checkPage(w, 'auth-local-denied', loopback(w.page));
    expect(text).toContain(`rk-sync was not allowed on ${host}.`);
    expect(text).toMatch(
      /To try again, run npx rk-sync auth --data-dir \S+ --no-browser .*--client-id \S+ .* in the terminal and choose Allow\./,
    );
    const { code } = await run.exited;
    expect(code).toBe(3);
    expect(run.stderr()).toMatch(
      new RegExp(
        `access was not granted on ${host.replace(/\./g, '\\.')}; run "npx rk-sync auth --data-dir \\S+ --no-browser --port 0 --client-id ${sim.clientId} --auth-base-url \\S+ --api-base-url \\S+" again and choose Allow`,
      ),
    );
    expect(run.stderr()).not.toContain('runkeeper.com');
    await w.page.context().close();
  }, 60_000);

  it('a stale callback (an old link): "use the newest link in your terminal"', async () => {
    const { run, url } = await startAuth();
    const w = await watchedPage(browser);
    // The consent page of this run, but answered with a state from an earlier one.
    await w.page.goto(url);
    const callback = new URL(new URL(url).searchParams.get('redirect_uri')!);
    callback.searchParams.set('code', 'abc');
    callback.searchParams.set('state', 'from-an-earlier-run');
    await w.page.goto(callback.toString());
    await w.page.getByRole('heading', { name: 'This sign-in link is out of date' }).waitFor();
    const text = await checkPage(w, 'auth-local-stale', loopback(w.page));
    expect(text).toContain('Use the newest link printed in your terminal.');
    expect(text).toMatch(
      /If that one is gone too, run npx rk-sync auth .* again for a fresh link\./,
    );
    // The run still waits for the real answer: the stale request changed nothing.
    expect(run.child.exitCode).toBeNull();
    run.child.kill('SIGINT');
    await run.exited;
    await w.page.context().close();
  }, 60_000);

  describe('the AWS callback result pages, as served (CSP and all)', () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      const p: Platform = {
        clients: {} as AwsClients,
        clock: new ManualClock(),
        logger: new Logger({ serviceName: 'rk-sync-test', logLevel: 'SILENT' }),
        metrics: new Metrics({ namespace: 'RkSyncTest', serviceName: 'rk-sync-test' }),
        invokeScheduler: async () => {},
      };
      const handler = createCallbackHandler(
        parseEnv('callback', {
          TABLE_NAME: 't',
          CLIENT_ID: 'cid',
          AUTH_BASE_URL: 'https://runkeeper.example',
          REDIRECT_URI: 'https://abc.example/callback',
          RATE_LIMIT_CALLS: '100',
          RATE_LIMIT_WINDOW_SECONDS: '900',
          TOKEN_PARAM_PREFIX: '/rk-sync/t/tokens/',
          CLIENT_SECRET_PARAM: '/rk-sync/client-secret',
          TOKEN_KMS_KEY_ID: 'alias/test',
          API_BASE_URL: 'https://api.runkeeper.example',
          SCHEDULER_FUNCTION_NAME: 'scheduler',
        }),
        p,
        {
          states: new MemoryAuthStateStore(),
          accounts: new MemoryAccountStore(),
          tokens: new MemoryTokenStore(),
          budget: memoryBudget(),
          clientSecret: async () => 'secret',
        },
      );
      server = createServer((req, res) => {
        const q = new URL(req.url ?? '/', 'http://x').search.slice(1);
        void (handler({ rawQueryString: q }, { awsRequestId: 'r' }) as Promise<HttpResult>).then(
          (r) => {
            res.writeHead(r.statusCode, r.headers);
            res.end(r.body);
          },
        );
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((r) => server?.close(r));
    });

    it.each([
      [
        'linked',
        'Runkeeper account linked',
        'Files appear in your S3 bucket under raw/{userId}/fitnessActivities/',
      ],
      [
        'denied',
        'Linking did not complete',
        'Open your newest authorize link again and choose Allow; npx rk-sync invite mints a new one-time link.',
      ],
      ['invalid', 'Linking did not complete', 'the link was old or already used'],
    ])('?result=%s: %s, with the next step', async (word, title, next) => {
      const w = await watchedPage(browser, { width: 390, height: 844 });
      const r = await w.page.goto(`${base}/callback?result=${word}`);
      expect(r?.headers()['content-security-policy']).toContain("default-src 'none'");
      await w.page.getByRole('heading', { name: title }).waitFor();
      const text = await checkPage(w, `auth-aws-${word}`, base);
      expect(text).toContain(next);
      await w.page.context().close();
    });
  });
});
