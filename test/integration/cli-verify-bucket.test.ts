/**
 * `rk-sync verify --bucket` against S3 (moto): an archive written through the S3 adapter
 * verifies green, a changed or deleted object turns it red. And the AWS user's way to FIT
 * files: a copy of the bucket (what `aws s3 sync` gives) exported with `--fit` locally.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../functions/adapters/aws/s3.ts';
import { zipFromFile } from '../../functions/adapters/zip.ts';
import { importExportZip } from '../../functions/core/import/archive.ts';
import { silentLog } from '../../functions/core/ports.ts';
import { newKmExport, zipOf } from '../fixtures/runkeeper-corpus.ts';
import { type MotoClients, motoClients, REGION, uniqueName } from '../helpers/aws-env.ts';
import { allFiles, killAllChildren, runCli } from '../helpers/cli.ts';
import { type Moto, startMoto } from '../helpers/moto.ts';

let moto: Moto;
let c: MotoClients;
const tmp = mkdtempSync(join(tmpdir(), 'rk-verify-s3-'));
beforeAll(async () => {
  moto = await startMoto();
  c = motoClients(moto.endpoint);
}, 60_000);
afterAll(async () => {
  killAllChildren();
  rmSync(tmp, { recursive: true, force: true });
  await moto?.stop();
});

describe('rk-sync verify --bucket', () => {
  it('green for an archive written to S3, red after an object changes or goes; a local copy gets FIT files', async () => {
    const bucket = uniqueName('rk-verify');
    await c.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const store = new S3ObjectStore(c.s3, bucket);
    const zip = join(tmp, 'export.zip');
    writeFileSync(zip, zipOf(newKmExport().files));
    const r = await importExportZip(store, '0', zipFromFile(zip), { log: silentLog });
    expect(r.errors).toEqual([]);
    const env = {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    };
    const dataDir = join(tmp, 'unused');
    const ok = await runCli(['verify', '--bucket', bucket, '--data-dir', dataDir], env);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`user 0 in s3://${bucket}: OK: (\\d+) of \\1 listed`));

    // The AWS user's copy of the bucket: export --fit locally, then verify it.
    const copy = join(tmp, 'copy');
    for await (const key of store.list('')) {
      const path = join(copy, key);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, (await store.get(key))!);
    }
    const ex = await runCli(['export', '--fit', '--data-dir', copy, '--json'], env);
    expect(ex.code, ex.stdout + ex.stderr).toBe(0);
    expect(JSON.parse(ex.stdout)).toMatchObject({ users: [{ userId: '0', fit: 2 }] });
    expect(allFiles(join(copy, 'fit', '0'))).toHaveLength(2);
    const local = await runCli(['verify', '--data-dir', copy], env);
    expect(local.code, local.stdout + local.stderr).toBe(0);

    // Someone edits one object and deletes another in the bucket.
    const keys: string[] = [];
    for await (const k of store.list('tcx/0/')) keys.push(k);
    await c.s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys[0]!, Body: 'edited' }));
    await c.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keys[1]! }));
    const bad = await runCli(['verify', '--bucket', bucket, '--data-dir', dataDir], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`  changed    ${keys[0]}`);
    expect(bad.stdout).toContain(`  missing    ${keys[1]}`);
  }, 120_000);
});
