/**
 * X14 (issue #12): the CLI accepted plain-http API/auth base URLs for any host, so the bearer
 * token (and, at `auth`, the client secret) could travel in clear text. Now the CDK rule
 * applies everywhere the CLI takes one: https, or http on loopback only. Flags, the config
 * file and the address remembered in the state database are all checked before any request.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocal } from '../../cli/local.ts';
import { baseUrlProblem } from '../../functions/core/base-url.ts';
import { runCli } from '../helpers/cli.ts';

const root = mkdtempSync(join(tmpdir(), 'rk-baseurl-'));

describe('X14: plain http only on loopback', () => {
  it('the rule', () => {
    for (const ok of [
      'https://api.runkeeper.com',
      'http://127.0.0.1:8080',
      'http://127.5.6.7',
      'http://localhost:1',
      'http://[::1]:9/api',
    ])
      expect(baseUrlProblem(ok), ok).toBeUndefined();
    for (const bad of [
      'http://api.runkeeper.com',
      'http://10.0.0.1',
      'http://192.168.1.10:8080',
      'http://127.0.0.1.attacker.example',
      'http://localhost.attacker.example',
      'http://[::ffff:127.0.0.1]',
      'https://user:pw@api.runkeeper.com',
      'ftp://api.runkeeper.com',
      'not a url',
    ])
      expect(baseUrlProblem(bad), bad).toBeDefined();
  });

  it('flags, the config file and the remembered address are refused before any request', async () => {
    const flag = await runCli([
      '--data-dir',
      join(root, 'a'),
      'auth',
      '--client-id',
      'cid',
      '--api-base-url',
      'http://api.runkeeper.com',
    ]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('plain http is allowed only on loopback');
    const authFlag = await runCli([
      '--data-dir',
      join(root, 'a'),
      'auth',
      '--client-id',
      'cid',
      '--auth-base-url',
      'http://10.0.0.1:8080',
    ]);
    expect(authFlag.code).toBe(2);
    expect(authFlag.stderr).toContain('plain http is allowed only on loopback');
    const syncFlag = await runCli([
      '--data-dir',
      join(root, 'a'),
      'sync',
      '--api-base-url',
      'http://10.0.0.1:8080',
    ]);
    expect(syncFlag.code).toBe(2);

    const cfg = join(root, 'rk-sync.json');
    writeFileSync(cfg, JSON.stringify({ authBaseUrl: 'http://runkeeper.com' }));
    const fromFile = await runCli(['--config', cfg, 'status']);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toContain('plain http is allowed only on loopback');

    // A state database that remembers a plain-http address (edited, or from an older version).
    const dir = join(root, 'remembered');
    const s = openLocal(dir, { warn: () => {} });
    await s.accounts.save({
      userId: '5',
      status: 'ACTIVE',
      linkedAt: 1,
      resources: { fitness_activities: '/fitnessActivities' },
      discoveredAt: 1,
      cursors: {},
      version: 0,
    });
    await s.tokens.put('5', 'tok_remembered_secret');
    s.db.setMeta('api_base_url', 'http://api.runkeeper.com');
    s.close();
    const remembered = await runCli(['--data-dir', dir, 'sync']);
    expect(remembered.code).toBe(2);
    expect(remembered.stderr).toContain('API base URL plain http is allowed only on loopback');
  });
});
