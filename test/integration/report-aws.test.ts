/**
 * The report in AWS, on moto with the table and bucket made from the synthesised template:
 * the scheduler's due index refresh also writes report/{userId}/index.html (text/html), an
 * idle run writes nothing, and `rk-sync report --url`'s presigned link serves it over
 * loopback while the bucket stays private.
 */
import { GetObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presignReport } from '../../cli/report.ts';
import { DynamoAccountStore, DynamoLedger } from '../../functions/adapters/aws/dynamo.ts';
import { S3ObjectStore } from '../../functions/adapters/aws/s3.ts';
import { ManualClock } from '../../functions/core/clock.ts';
import { writeDerived } from '../../functions/core/export/derive.ts';
import { type Account, silentLog } from '../../functions/core/ports.ts';
import { reportKey } from '../../functions/core/report/build.ts';
import { refreshIndex } from '../../functions/core/sync/index-refresh.ts';
import { USER_DATA_PREFIXES } from '../../functions/shared/app/deauthorize.ts';
import {
  type MotoClients,
  motoClients,
  type Provisioned,
  provision,
  synthTemplate,
  templateFacts,
} from '../helpers/aws-env.ts';
import { type Moto, startMoto } from '../helpers/moto.ts';

const USER = '31337';
const enc = new TextEncoder();
let moto: Moto;
let c: MotoClients;
let env: Provisioned;

beforeAll(async () => {
  moto = await startMoto();
  c = motoClients(moto.endpoint);
  env = await provision(moto.endpoint, c, templateFacts(synthTemplate({ clientId: 'x' })), {
    prefix: 'report',
  });
}, 120_000);

afterAll(async () => {
  await moto?.stop();
});

async function versions(key: string): Promise<number> {
  const r = await c.s3.send(new ListObjectVersionsCommand({ Bucket: env.bucketName, Prefix: key }));
  return (r.Versions ?? []).filter((v) => v.Key === key).length;
}

describe('report in the bucket', () => {
  it('the due index refresh rebuilds the report; an idle run does not touch it; --url serves it', async () => {
    const clock = new ManualClock();
    const store = new S3ObjectStore(c.s3, env.bucketName);
    const accounts = new DynamoAccountStore(c.ddb, env.tableName);
    const ledger = new DynamoLedger(c.ddb, env.tableName);
    const account: Account = {
      userId: USER,
      status: 'ACTIVE',
      linkedAt: clock.now(),
      resources: {},
      discoveredAt: clock.now(),
      cursors: {},
      version: 0,
    };
    await accounts.save(account);
    for (const id of ['11', '12', '13']) {
      const raw = {
        uri: `/fitnessActivities/${id}`,
        type: 'Running',
        start_time: `Mon, ${id} Mar 2024 08:00:00`,
        total_distance: 5000 + Number(id),
        duration: 1500,
        notes: `note ${id} </script>`,
        path: [
          { timestamp: 0, latitude: 52.37, longitude: 4.89, type: 'start' },
          { timestamp: 750, latitude: 52.39, longitude: 4.89, type: 'gps' },
          { timestamp: 1500, latitude: 52.41, longitude: 4.9, type: 'end' },
        ],
      };
      await store.put(
        `raw/${USER}/fitnessActivities/${id}.json`,
        enc.encode(JSON.stringify(raw)),
        'application/json',
      );
      await writeDerived(store, USER, raw);
    }
    const deps = { accounts, ledger, store, clock, log: silentLog };
    const key = reportKey(USER);
    // While a fetch is in flight (a backfill), the index is built but the report waits.
    const items = ['11', '12', '13'].map((id) => ({
      feed: 'fitnessActivities' as const,
      id,
      summaryHash: id,
    }));
    await ledger.observe(USER, items, clock.now());
    expect(await ledger.markEnqueued(USER, 'fitnessActivities', '13', 1, clock.now(), 60_000)).toBe(
      true,
    );
    const busy = await refreshIndex(deps, USER, { outcome: 'ok', enqueued: 3, deleted: 0 });
    expect(busy).toMatchObject({ outcome: 'built', rows: 3 });
    expect(busy).not.toHaveProperty('reportBytes');
    expect(await versions(key)).toBe(0);
    await ledger.markSynced(
      USER,
      'fitnessActivities',
      '13',
      { rev: 1, contentHash: 'h', key: `raw/${USER}/fitnessActivities/13.json` },
      clock.now(),
    );
    clock.advance(3_600_000);
    const built = await refreshIndex(deps, USER, { outcome: 'ok', enqueued: 0, deleted: 0 });
    expect(built).toMatchObject({ outcome: 'built', rows: 3 });
    expect(built.outcome === 'built' && built.reportBytes).toBeGreaterThan(10_000);
    const obj = await c.s3.send(new GetObjectCommand({ Bucket: env.bucketName, Key: key }));
    expect(obj.ContentType).toBe('text/html; charset=utf-8');
    const html = await obj.Body!.transformToString();
    expect(html).toContain("default-src 'none'");
    for (const id of ['11', '12', '13']) expect(html).toContain(`id="d${id}"`);
    expect(html).not.toContain('note 11 </script>');

    // Idle: nothing changed, nothing is rebuilt (one version of the report).
    clock.advance(2 * 3_600_000);
    expect(await refreshIndex(deps, USER, { outcome: 'ok', enqueued: 0, deleted: 0 })).toEqual({
      outcome: 'clean',
    });
    expect(await versions(key)).toBe(1);

    // The presigned link (user inferred from the one report in the bucket) serves the page.
    const link = await presignReport({ bucket: env.bucketName, expires: 900 }, c.s3);
    expect(link.userId).toBe(USER);
    const url = new URL(link.url);
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    const r = await fetch(link.url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await r.text()).toBe(html);

    // onRevoke=delete purges every prefix of the user: the report (all their data in one page)
    // is one of them.
    const prefixes = new Set<string>();
    for await (const k of store.list(''))
      if (k.split('/')[1] === USER) prefixes.add(`${k.split('/')[0]}/`);
    expect(prefixes).toContain('report/');
    for (const p of prefixes) expect(USER_DATA_PREFIXES).toContain(p);
  });

  it('--url refuses a bad lifetime and says when no report exists yet', async () => {
    await expect(presignReport({ bucket: env.bucketName, expires: 10 }, c.s3)).rejects.toThrow(
      /--expires/,
    );
    await expect(
      presignReport({ bucket: `${env.bucketName}`, expires: 600, userId: '1' }, c.s3),
    ).resolves.toMatchObject({ userId: '1' });
    const other = `${env.prefix}-empty`;
    const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
    await c.s3.send(new CreateBucketCommand({ Bucket: other }));
    await expect(presignReport({ bucket: other, expires: 600 }, c.s3)).rejects.toThrow(
      /no report in/,
    );
  });
});
