/**
 * Local and AWS produce the same archive from the same account. One simulator account is
 * backed up twice: by the deployed design (Lambdas on moto, S3) and by the real `rk-sync sync`
 * process (files). The property, over every key of the archive layout (raw documents,
 * photos and thumbnails, GPX, TCX, GeoJSON, index rows, the combined index and manifest):
 * the key exists in both modes and its bytes are identical. Activities still being recorded
 * upstream (live) are left out: the simulator moves them on between the two runs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocal } from '../../cli/local.ts';
import { S3ObjectStore } from '../../functions/adapters/aws/s3.ts';
import { FsObjectStore } from '../../functions/adapters/local/index.ts';
import type { ObjectStore } from '../../functions/core/ports.ts';
import { killAllChildren, runCli } from '../helpers/cli.ts';
import { DeployedHarness } from '../helpers/deployed-harness.ts';

const h = new DeployedHarness({ activities: 40 });
const dir = mkdtempSync(join(tmpdir(), 'rk-parity-'));

beforeAll(async () => {
  await h.start();
}, 180_000);
afterAll(async () => {
  killAllChildren();
  await h.stop();
  rmSync(dir, { recursive: true, force: true });
});

const PREFIXES = ['raw', 'media', 'gpx', 'tcx', 'geojson', 'index'];

async function archive(store: ObjectStore, userId: string, skip: (key: string) => boolean) {
  const out = new Map<string, string>();
  for (const p of PREFIXES) {
    for await (const key of store.list(`${p}/${userId}/`)) {
      if (skip(key)) continue;
      out.set(key, Buffer.from((await store.get(key))!).toString('base64'));
    }
  }
  return out;
}

describe('local and AWS archives of one account', () => {
  it('every key of the layout exists in both modes with identical bytes (photos included)', async () => {
    await h.link();
    await h.backfill();
    await h.rebuildIndex();
    const userId = h.userId;

    // The same account, linked in a local data directory with the simulator's own token.
    const stores = openLocal(dir);
    const simUser = h.sim.users.find((u) => u.userId === userId)!;
    await stores.tokens.put(userId, simUser.accessToken);
    await stores.accounts.save({
      userId,
      status: 'ACTIVE',
      linkedAt: Date.now(),
      resources: {},
      discoveredAt: 0,
      cursors: {},
      version: 0,
    });
    stores.close();
    await new Promise((r) => setTimeout(r, 2_100)); // the AWS run's calls leave the window
    const sync = await runCli(
      [
        'sync',
        '--data-dir',
        dir,
        '--api-base-url',
        h.sim.apiBaseUrl,
        '--rate-limit',
        String(h.opts.rateLimitCalls),
        '--rate-window',
        String(h.opts.rateLimitWindowSeconds),
        '--quiet',
      ],
      {},
      90_000,
    );
    expect(sync.code, sync.stderr).toBe(0);
    expect(h.sim.http429()).toBe(0);

    const live = new Set(
      h.sim.activityIds(userId).filter((id) => {
        const d = h.sim.document(userId, 'fitnessActivities', id) as { is_live?: unknown };
        return d?.is_live === true;
      }),
    );
    // Live activities, and the files assembled from every activity (index, manifest).
    const skip = (key: string) =>
      [...live].some((id) => key.includes(`/${id}.`) || key.includes(`/${id}/`)) ||
      (live.size > 0 && /^index\/\d+\/(activities\.|manifest\.json)/.test(key));
    const aws = await archive(new S3ObjectStore(h.c.s3, h.res.bucketName), userId, skip);
    const local = await archive(new FsObjectStore(dir), userId, skip);
    const photos = [...aws.keys()].filter((k) => k.startsWith('media/'));
    expect(photos.length).toBeGreaterThan(0);
    expect([...local.keys()].sort()).toEqual([...aws.keys()].sort());
    const differ = [...aws].filter(([k, v]) => local.get(k) !== v).map(([k]) => k);
    expect(differ).toEqual([]);
    // The local manifest lists the photos too.
    const manifest = readFileSync(join(dir, 'index', userId, 'manifest.json'), 'utf8');
    for (const k of photos) expect(manifest).toContain(`"${k}"`);
  }, 240_000);
});
