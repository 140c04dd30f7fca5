/**
 * Local mode keeps private data private (issue #12, X11) and `rk-sync unlink` removes a
 * locally linked account (X9): real files under a real data directory, the real CLI.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocal } from '../../cli/local.ts';
import { FileTokenStore, FsObjectStore } from '../../functions/adapters/local/index.ts';
import { runCli } from '../helpers/cli.ts';

const root = mkdtempSync(join(tmpdir(), 'rk-private-'));

/** Every directory and file under `dir` with its permission bits. */
function modes(dir: string, out: Record<string, number> = {}, rel = ''): Record<string, number> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const k = rel ? `${rel}/${e.name}` : e.name;
    out[k] = statSync(p).mode & 0o777;
    if (e.isDirectory()) modes(p, out, k);
  }
  return out;
}

/** A data directory as a user makes it: `mkdir rk-data` with the usual umask (0755). */
function usualDir(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  return dir;
}

describe('private files stay private (X11)', () => {
  it('in a 0755 data directory, every stored directory is 0700 and every file 0600', async () => {
    const dir = usualDir('store');
    const old = process.umask(0o022);
    try {
      const store = new FsObjectStore(dir);
      const body = (s: string) => new TextEncoder().encode(s);
      await store.put('raw/1/fitnessActivities/2.json', body('{"a":1}'), 'application/json');
      await store.put('raw/1/fitnessActivities/2.json', body('{"a":2}'), 'application/json');
      await store.put('gpx/1/fitnessActivities/2.gpx', body('<gpx/>'), 'application/gpx+xml');
      await store.put('raw/1/weight/3.json', body('{"weight":70}'), 'application/json');
      await new FileTokenStore(dir).put('1', 'tok_secret');
    } finally {
      process.umask(old);
    }
    const all = modes(dir);
    // The history copy of the replaced raw document is there too.
    expect(Object.keys(all).some((k) => k.startsWith('history/raw/1/fitnessActivities/2/'))).toBe(
      true,
    );
    const dirs = Object.entries(all).filter(([k]) => statSync(join(dir, k)).isDirectory());
    const files = Object.entries(all).filter(([k]) => statSync(join(dir, k)).isFile());
    expect(dirs.length).toBeGreaterThan(8);
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const [k, m] of dirs) expect([k, m.toString(8)]).toEqual([k, '700']);
    for (const [k, m] of files) expect([k, m.toString(8)]).toEqual([k, '600']);
  });

  it('warns when the data directory itself is group- or world-readable, not when private', async () => {
    const warned: string[] = [];
    const open = (d: string) => openLocal(d, { warn: (m) => warned.push(m) }).close();
    const exposed = usualDir('exposed');
    open(exposed);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain('mode 755');
    expect(warned[0]).toContain(`chmod 700 ${exposed}`);
    chmodSync(exposed, 0o700);
    open(exposed);
    // A directory rk-sync creates itself is private from the start.
    open(join(root, 'created-by-rk-sync'));
    expect(statSync(join(root, 'created-by-rk-sync')).mode & 0o777).toBe(0o700);
    expect(warned).toHaveLength(1);
  });
});

describe('rk-sync unlink (local, X9)', () => {
  it('removes the only linked account and its token; the archive stays', async () => {
    const dir = usualDir('unlink');
    const s = openLocal(dir, { warn: () => {} });
    await s.accounts.save({
      userId: '77',
      status: 'ACTIVE',
      linkedAt: 1,
      resources: {},
      discoveredAt: 1,
      cursors: {},
      version: 0,
    });
    await s.tokens.put('77', 'tok_local_secret');
    await s.store.put('raw/77/fitnessActivities/1.json', new Uint8Array([123, 125]), 'x');
    s.close();
    const r = await runCli(['--data-dir', dir, '--json', 'unlink']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ userId: '77', where: 'local', wasLinked: true });
    // The 0755 directory is pointed out on every command.
    expect(r.stderr).toMatch(/warning: the data directory .* is accessible to other users/);
    const after = openLocal(dir, { warn: () => {} });
    try {
      expect(await after.accounts.list()).toEqual([]);
      expect(await after.tokens.get('77')).toBeUndefined();
      expect(await after.store.get('raw/77/fitnessActivities/1.json')).toBeDefined();
    } finally {
      after.close();
    }
    const again = await runCli(['--data-dir', dir, 'unlink']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('no account is linked');
  });
});
