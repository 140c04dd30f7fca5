/**
 * `rk-sync link strava` and `rk-sync push strava` as real processes against the Strava
 * simulator (loopback): the OAuth flow, kill -9 at random points, and a final no-op run.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../functions/adapters/local/files.ts';
import { type StravaSimulator, startStravaSimulator } from '../../strava-simulator/server.ts';
import { killAllChildren, runCli, spawnCli } from '../helpers/cli.ts';
import { approveLinkInBrowser, simulatedArchive } from '../helpers/strava-harness.ts';

let sim: StravaSimulator | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});
afterAll(() => {
  killAllChildren();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function linked(n: number): Promise<{ dir: string; userId: string; sim: StravaSimulator }> {
  const dir = mkdtempSync(join(tmpdir(), 'rk-strava-'));
  dirs.push(dir);
  const userId = await simulatedArchive(new FsObjectStore(dir), n, 7);
  sim = await startStravaSimulator({ processingMs: 30 });
  const secret = sim.clientSecret;
  const run = spawnCli(
    [
      '--data-dir',
      dir,
      'link',
      'strava',
      '--client-id',
      sim.clientId,
      '--port',
      '0',
      '--no-browser',
      '--oauth-base-url',
      sim.oauthBaseUrl,
      '--api-base-url',
      sim.apiBaseUrl,
    ],
    { STRAVA_CLIENT_SECRET: secret },
  );
  await approveLinkInBrowser(run);
  const { code } = await run.exited;
  expect(code).toBe(0);
  expect(run.stdout()).toContain(`archive user ${userId}`);
  // Secrets never printed; stored 0600.
  expect(run.stdout() + run.stderr()).not.toContain(secret);
  const cred = join(dir, '.rk-sync', 'credentials.json');
  expect(statSync(cred).mode & 0o777).toBe(0o600);
  expect(readFileSync(cred, 'utf8')).toContain('refreshToken');
  return { dir, userId, sim };
}

describe('rk-sync push strava (processes)', { timeout: 180_000 }, () => {
  it('survives kill -9 at random points: every activity lands exactly once, then a rerun is a no-op', async () => {
    const { dir, sim: s } = await linked(40);
    const args = ['--data-dir', dir, '--json', 'push', 'strava', '--first-poll-ms', '50'];
    for (let k = 0; k < 4; k++) {
      const run = spawnCli(args);
      const delay = 150 + Math.floor(Math.random() * 900);
      await new Promise((r) => setTimeout(r, delay));
      run.child.kill('SIGKILL');
      await run.exited;
    }
    const done = await runCli(args, {}, 120_000);
    expect(done.code, done.stderr).toBe(0);
    const summary = JSON.parse(done.stdout) as {
      remaining: number;
      failed: number;
      stopped: string;
    };
    expect(summary).toMatchObject({ remaining: 0, failed: 0, stopped: 'done' });
    expect(s.activities()).toHaveLength(40);
    expect([...s.countByExternalId().values()].every((n) => n === 1)).toBe(true);
    expect(s.http429()).toBe(0);

    const before = s.calls().length;
    const again = await runCli(args, {}, 60_000);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ alreadyDone: 40, apiCalls: 0 });
    expect(s.calls().length).toBe(before);
  }, 180_000);

  it('--dry-run counts what would be pushed without any API call; filters narrow it', async () => {
    const { dir, sim: s } = await linked(25);
    const all = await runCli(['--data-dir', dir, '--json', 'push', 'strava', '--dry-run']);
    expect(all.code).toBe(0);
    const r = JSON.parse(all.stdout) as {
      wouldPush: number;
      files: number;
      manual: number;
      etaDays: number;
      byType: Record<string, number>;
    };
    expect(r.wouldPush).toBe(25);
    expect(r.files + r.manual).toBe(25);
    const [type, count] = Object.entries(r.byType)[0]!;
    const one = await runCli([
      '--data-dir',
      dir,
      '--json',
      'push',
      'strava',
      '--dry-run',
      '--type',
      type.toLowerCase(),
      '--limit',
      '1000',
    ]);
    expect(JSON.parse(one.stdout)).toMatchObject({ wouldPush: count });
    const none = await runCli([
      '--data-dir',
      dir,
      '--json',
      'push',
      'strava',
      '--dry-run',
      '--since',
      '2100-01-01',
    ]);
    expect(JSON.parse(none.stdout)).toMatchObject({ wouldPush: 0, filteredOut: 25 });
    expect(s.calls().filter((c) => c.path.startsWith('/api/'))).toHaveLength(0);
  });
});

describe('rk-sync demo --push strava', () => {
  it('backs up the simulated account, then pushes every activity to the simulated Strava once, 0 × 429', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rk-strava-demo-'));
    dirs.push(dir);
    const r = await runCli(
      [
        '--data-dir',
        dir,
        '--json',
        'demo',
        '--activities',
        '30',
        '--duration',
        '4',
        '--push',
        'strava',
      ],
      {},
      120_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as {
      stored: number;
      strava: {
        pushed: number;
        onStrava: number;
        uniqueExternalIds: boolean;
        http429: number;
        failed: number;
      };
    };
    expect(d.stored).toBe(30);
    expect(d.strava).toMatchObject({
      pushed: 30,
      onStrava: 30,
      uniqueExternalIds: true,
      http429: 0,
      failed: 0,
    });
  }, 150_000);
});
