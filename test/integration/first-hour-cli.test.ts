/**
 * Issue 18, end to end: what a newcomer reads in the terminal, on the exact text. The real
 * `rk-sync` process against the simulator (loopback only); the OAuth pages are in
 * test/integration/oauth-pages.test.ts (headless Chromium).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../simulator/server.ts';
import {
  completeBrowserFlow,
  killAllChildren,
  ROOT,
  rawActivityFiles,
  runCli,
  spawnAuth,
  spawnCli,
  waitFor,
} from '../helpers/cli.ts';

const LIMIT = { calls: 30, windowMs: 2_000 };
const RATE = ['--rate-limit', String(LIMIT.calls), '--rate-window', String(LIMIT.windowMs / 1000)];
const tmp = mkdtempSync(join(tmpdir(), 'rk-first-hour-'));
// The demo's data directory lives inside the project folder, as `npm run demo`'s does.
const inside = join(ROOT, '.tmp', `first-hour-${process.pid}`);
const sims: Simulator[] = [];
let dirs = 0;

afterAll(async () => {
  killAllChildren();
  await Promise.all(sims.map((s) => s.close()));
  rmSync(tmp, { recursive: true, force: true });
  rmSync(inside, { recursive: true, force: true });
});

async function sim(activities: number, seed = 7): Promise<Simulator> {
  const s = await startSimulator({ activities, seed, rateLimit: LIMIT, autoApprove: true });
  sims.push(s);
  return s;
}

function newDir(): string {
  const d = join(tmp, `data${++dirs}`);
  mkdirSync(d);
  return d;
}

async function auth(s: Simulator, dataDir: string): Promise<string> {
  const { run, url } = await spawnAuth(s, dataDir, ['--json']);
  expect(await completeBrowserFlow(url)).toBe(200);
  expect((await run.exited).code).toBe(0);
  return (JSON.parse(run.stdout()) as { userId: string }).userId;
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('the first hour in the terminal (issue 18)', () => {
  it('the demo ends with a next step that runs exactly as printed, and it tells the same story as status', async () => {
    const dir = relative(ROOT, join(inside, 'demo'));
    const d = await runCli(
      ['demo', '--activities', '30', '--duration', '5', '--data-dir', dir],
      {},
      90_000,
    );
    expect(d.code).toBe(0);
    const next = /^ {2}next: {9}(.+)$/m.exec(d.stdout)?.[1];
    expect(next).toBe(`npx rk-sync status --data-dir ${dir}`);
    const story =
      /30 stored: (\d+) complete, (\d+) still being recorded \(stored as they are now; a later sync fetches them again, so status lists them as pending\)/.exec(
        d.stdout,
      );
    expect(story).not.toBeNull();
    const recording = Number(story![2]);
    expect(recording).toBeGreaterThan(0);
    expect(d.stdout).not.toMatch(/%/);

    // Literally what was printed, through a shell, from the project folder.
    const st = spawnSync('sh', ['-c', next!], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(st.status).toBe(0);
    expect(st.stdout).toContain(`Data directory: ${join(ROOT, dir)}`);
    expect(st.stdout).toContain(
      `  synced ${story![1]} · pending ${recording} (${recording} still being recorded, fetched again by a later sync) · enqueued 0`,
    );
  }, 120_000);

  it('Ctrl-C during a first sync: the summary has the same total as the progress (the feed size, not the pages listed so far)', async () => {
    const s = await sim(250, 21);
    const dir = newDir();
    const userId = await auth(s, dir);
    const run = spawnCli(['sync', '--data-dir', dir, ...RATE]);
    await waitFor(() => rawActivityFiles(dir, userId).length >= 5, 30_000, 5);
    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(code).toBe(130);
    const summary = /stored (\d+)\/(\d+) \(this run/.exec(run.stdout());
    expect(summary?.[2]).toBe('250');
    const bars = [...run.stderr().matchAll(/rk-sync: (\d+)\/(\d+) stored/g)];
    // Before the first page the total is not known yet (0); from then on it is the feed's size.
    expect(bars.at(-1)?.[2]).toBe('250');
    for (const b of bars) expect(['0', '250']).toContain(b[2]);
    expect(run.stdout()).toMatch(/pending \d+ \(\d+ not listed yet/);
  }, 60_000);

  it('an unreachable API: the address tried and each retry are shown, a hint follows, and it gives up after two planning runs', async () => {
    const s = await sim(10, 3);
    const dir = newDir();
    await auth(s, dir);
    const port = await closedPort();
    const r = await runCli(
      ['sync', '--data-dir', dir, '--api-base-url', `http://127.0.0.1:${port}`, ...RATE],
      {},
      120_000,
    );
    expect(r.code).toBe(1);
    const retries = r.stderr.match(
      new RegExp(
        `cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); retrying in \\d+\\.\\d s \\(attempt [234] of 4\\)`,
        'g',
      ),
    );
    // Four attempts per planning run (three retries shown), two runs: then it stops and says why.
    expect(retries).toHaveLength(6);
    expect(r.stdout).toContain(
      `rk-sync: sync stopped on an error: Transient: cannot reach http://127.0.0.1:${port} (ECONNREFUSED)`,
    );
    expect(r.stdout).toContain(
      '  hint: check the network connection and the API address (remembered from "rk-sync auth"; --api-base-url overrides it); everything stored so far is kept, run the sync again to continue',
    );
  }, 150_000);
});
