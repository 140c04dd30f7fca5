/** `rk-sync auth` for real in tests: print the URL, the test plays the browser, the CLI exchanges the code. */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Simulator } from '../../simulator/server.ts';
import { completeBrowserFlow, spawnCli, waitFor } from './cli.ts';

/** `rk-sync auth` for real: print the URL, we play the browser, the CLI exchanges the code. */
export async function authCli(s: Simulator, dataDir: string): Promise<string> {
  const run = spawnCli(
    [
      'auth',
      '--data-dir',
      dataDir,
      '--no-browser',
      '--port',
      '0',
      '--client-id',
      s.clientId,
      '--auth-base-url',
      s.authBaseUrl,
      '--api-base-url',
      s.apiBaseUrl,
      '--json',
    ],
    { RK_CLIENT_SECRET: s.clientSecret },
  );
  await waitFor(() => /http:\/\/\S+\/apps\/authorize\S*/.test(run.stderr()), 15_000);
  const url = /http:\/\/\S+\/apps\/authorize\S*/.exec(run.stderr())![0];
  expect(url).toContain('redirect_uri=http%3A%2F%2F127.0.0.1%3A');
  expect(await completeBrowserFlow(url)).toBe(200);
  const { code } = await run.exited;
  expect(code, run.stderr()).toBe(0);
  const res = JSON.parse(run.stdout().trim().split('\n').at(-1)!) as { userId: string };
  // The token is stored 0600 and never printed.
  const credPath = join(dataDir, '.rk-sync', 'credentials.json');
  expect(statSync(credPath).mode & 0o777).toBe(0o600);
  const token = (JSON.parse(readFileSync(credPath, 'utf8')) as { tokens: Record<string, string> })
    .tokens[res.userId]!;
  expect(token.length).toBeGreaterThan(10);
  expect(run.stdout() + run.stderr()).not.toContain(token);
  return res.userId;
}
