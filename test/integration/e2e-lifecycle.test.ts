/**
 * Issue #17, the AWS lifecycle on moto + the simulator: deploy → backfill → upgrade the code
 * in place with messages in flight and a scheduler mid-run → `cdk destroy` (data kept, work
 * still queued) → redeploy adopting the retained bucket, table and key → the queued work
 * heals, an idle run costs one API call and nothing is fetched twice → `rk-sync restore`
 * brings back a deleted and an overwritten object from S3 versions → `rk-sync status --stack`
 * shows the deployment → a point-in-time restore of the table, adopted by another redeploy →
 * a copy of the bucket (`aws s3 sync`) re-rendered by `rk-sync export` → invariants.
 * docs/DEPLOY.md §9–§13.
 */

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CloudWatchClient,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PurgeQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsStatusReport } from '../../cli/status-aws.ts';
import { S3ObjectStore } from '../../functions/adapters/aws/s3.ts';
import { REGION } from '../helpers/aws-env.ts';
import { createOutputsStack } from '../helpers/cfn-stack.ts';
import { runCli } from '../helpers/cli.ts';
import { DeployedHarness } from '../helpers/deployed-harness.ts';
import {
  deliverOne,
  destroyStack,
  redeployAdopting,
  restoreTableDrill,
  upgradeCode,
} from '../helpers/lifecycle.ts';

const ACTIVITIES = 60;
/** The redeploy comes this long after the destroy (past the lease and change-log overlap). */
const LATER_MS = 3 * 60_000;
const STACK = 'RkSyncLifecycle';
const TOPIC = `arn:aws:sns:${REGION}:123456789012:${STACK}-AlarmTopic`;
const AWS_ENV = () => ({
  AWS_ENDPOINT_URL: h.moto.endpoint,
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
});
const h = new DeployedHarness({ activities: ACTIVITIES });

async function currentHash(key: string): Promise<string | undefined> {
  try {
    const r = await h.c.s3.send(new HeadObjectCommand({ Bucket: h.res.bucketName, Key: key }));
    return r.Metadata?.sha256;
  } catch {
    return undefined;
  }
}
const added: string[] = [];
const deleted: string[] = [];

/** Activity documents fetched since call-log position `n` (GET /fitnessActivities/{id}). */
function documentFetches(n: number): string[] {
  return h.sim.callLog
    .slice(n)
    .map((r) => /^\/fitnessActivities\/(\d+)$/.exec(r.path.split('?')[0] ?? '')?.[1])
    .filter((id): id is string => id !== undefined);
}

beforeAll(async () => {
  await h.start();
}, 60_000);

afterAll(async () => {
  await h.stop();
});

describe('AWS lifecycle on moto + simulator', () => {
  it('deploy → link → backfill; an idle run costs one call', async () => {
    await h.link();
    const r = await h.backfill();
    expect(r.counts.SYNCED).toBe(r.expected);
    const idle = await h.idleRun();
    expect(idle.apiCalls).toBe(1);
    expect(idle.enqueued).toBe(0);
  }, 90_000);

  it('upgrade in place: a message in flight and a scheduler mid-run lose nothing', async () => {
    const ids = [h.addFinishedActivity(), h.addFinishedActivity(), h.addFinishedActivity()];
    added.push(...ids);
    await h.runScheduler();
    // The old code takes one message and dies after its S3 write (the message stays in flight
    // until its visibility timeout); another old scheduler run is still going when the new
    // code lands.
    let crashed = 0;
    const oldFetcher = h.fetcherWith((p) => {
      if (p === 'after-put' && crashed++ === 0) throw new Error('old code interrupted mid-run');
    });
    expect(await deliverOne(h, oldFetcher)).toBe(true);
    const oldScheduler = h.scheduler;
    const midRun = h.runScheduler(oldScheduler);
    const upgraded = upgradeCode(h);
    expect(h.fetcher).not.toBe(oldFetcher);
    expect(h.scheduler).not.toBe(oldScheduler);
    const newRun = await h.runScheduler();
    await midRun;
    const drained = await h.drain();
    expect(crashed).toBe(1);
    expect(newRun[0]?.outcome).toBe('ok');
    expect(drained.delivered).toBeGreaterThanOrEqual(ids.length - 1);
    for (const id of ids) {
      expect((await h.item(id))?.status).toBe('SYNCED');
      expect(await h.versions(h.rawKey(id))).toHaveLength(1);
    }
    expect(upgraded.types).toContain('AWS::DynamoDB::Table');
    expect(await h.queueDepth(h.res.dlqUrl)).toBe(0);
    expect(h.sim.http429()).toBe(0);
  }, 60_000);

  let kept: Awaited<ReturnType<typeof destroyStack>>['kept'];
  let storedBefore: Map<string, number>;
  let queued: string[];

  it('cdk destroy keeps bucket, table, key and the queued work', async () => {
    // Two new activities are enqueued, then the stack goes before any fetcher runs.
    queued = [h.addFinishedActivity(), h.addFinishedActivity()];
    added.push(...queued);
    const runs = await h.runScheduler();
    expect(runs[0]?.enqueued).toBeGreaterThanOrEqual(queued.length);
    storedBefore = await h.storedActivities();
    const d = await destroyStack(h);
    kept = d.kept;
    expect(d.queueDepth).toBeGreaterThanOrEqual(queued.length);
    for (const id of queued) expect((await h.item(id))?.status).toBe('ENQUEUED');
    await expect(h.runScheduler()).rejects.toThrow(/destroyed/);
  });

  it('redeploy adopting the data: no data resources created, queued work heals, nothing re-fetched', async () => {
    // Minutes pass between destroy and redeploy (for the handlers and Runkeeper alike): the
    // leases of the stranded messages and the change log's 2-minute overlap expire.
    h.advance(LATER_MS);
    const calls = h.sim.callLog.length;
    const r = await redeployAdopting(h, kept);
    for (const type of ['AWS::S3::Bucket', 'AWS::DynamoDB::Table', 'AWS::KMS::Key']) {
      expect(r.types).not.toContain(type);
    }
    // The new functions name the adopted data exactly as the old ones did; only the queue is new.
    for (const fn of ['scheduler', 'fetcher'] as const) {
      expect(r.after[fn]).toMatchObject({
        TABLE_NAME: r.before[fn].TABLE_NAME,
        BUCKET_NAME: r.before[fn].BUCKET_NAME,
        TOKEN_PARAM_PREFIX: r.before[fn].TOKEN_PARAM_PREFIX,
      });
      expect(r.after[fn].QUEUE_URL).not.toBe(r.before[fn].QUEUE_URL);
    }
    expect(r.after.callback.TOKEN_KMS_KEY_ID).toBe(kept.kmsKeyArn);
    // The messages stranded in the old queue are re-enqueued once their lease has run out.
    const runs = await h.runScheduler();
    expect(runs[0]?.enqueued).toBeGreaterThanOrEqual(queued.length);
    await h.drain();
    for (const id of queued) {
      expect((await h.item(id))?.status).toBe('SYNCED');
      expect(await h.versions(h.rawKey(id))).toHaveLength(1);
    }
    // Only the stranded activities were fetched again; the backfilled history was not.
    // Only activities added during this test were fetched (the stranded ones, and recent ones
    // whose upstream document changed when a neighbour was added); the backfilled history was not.
    const fetched = new Set(documentFetches(calls));
    for (const id of queued) expect(fetched).toContain(id);
    expect([...fetched].filter((id) => !added.includes(id))).toEqual([]);
    const storedAfter = await h.storedActivities();
    const history = [...storedBefore].filter(([id]) => !added.includes(id));
    expect(history.length).toBe(ACTIVITIES);
    for (const [id, n] of history) expect(storedAfter.get(id), id).toBe(n);
  }, 60_000);

  it('after the redeploy an idle run is one call: nothing enqueued, no S3 request', async () => {
    const idle = await h.idleRun();
    expect(idle.apiCalls).toBe(1);
    expect(idle.paths).toEqual(['/changeLog']);
    expect(idle.enqueued).toBe(0);
    expect(idle.queueDepth).toBe(0);
    expect(idle.requests.S3 ?? 0).toBe(0);
    // The token stored by the first stack is read by the new one: no re-authorisation.
    expect(h.token).not.toBe('');
  });

  it('restore drill: rk-sync restore brings back a deleted and an overwritten object from S3 versions', async () => {
    await createOutputsStack(h.moto.endpoint, STACK, {
      BucketName: h.res.bucketName,
      TableName: h.res.tableName,
      QueueUrl: h.res.queueUrl,
      DeadLetterQueueUrl: h.res.dlqUrl,
      AlarmTopicArn: TOPIC,
    });
    const [gone, clobbered, other] = h.finishedIds().filter((id) => !added.includes(id));
    const bucket = h.res.bucketName;
    const gpx = `gpx/${h.userId}/fitnessActivities/${other}.gpx`;
    await h.c.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: h.rawKey(gone!) }));
    await h.c.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: h.rawKey(clobbered!), Body: '{"oops":1}' }),
    );
    await h.c.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: gpx }));
    const cli = (...args: string[]) =>
      runCli(['--json', 'restore', '--stack', STACK, ...args], AWS_ENV());
    const report = async (args: string[]) => {
      const r = await cli(...args);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { checked?: number; results: Record<string, string>[] };
    };
    const actions = (r: { results: Record<string, string>[] }) =>
      Object.fromEntries(r.results.map((x) => [x.key, x.action]));
    const expected = { [h.rawKey(gone!)]: 'undelete', [h.rawKey(clobbered!)]: 'copy' };
    // --dry-run reports and changes nothing.
    expect(actions(await report(['--all', '--dry-run']))).toEqual(expected);
    expect(await currentHash(h.rawKey(gone!))).toBeUndefined();
    const all = await report(['--all']);
    expect(actions(all)).toEqual(expected);
    for (const id of [gone!, clobbered!]) {
      expect(await currentHash(h.rawKey(id))).toBe((await h.item(id))?.contentHash);
    }
    // The overwrite stays in the history; the undeleted version is current again with its id.
    expect(await h.versions(h.rawKey(clobbered!))).toHaveLength(3);
    expect(all.results.find((x) => x.action === 'undelete')?.currentVersion).toBe(
      (await h.item(gone!))?.versionId,
    );
    // Everything matches the ledger now; a second run restores nothing.
    const again = await report(['--all']);
    expect(again.results).toEqual([]);
    expect(again.checked).toBeGreaterThanOrEqual(ACTIVITIES);
    // Any object by key (a derived file has no ledger record of its own).
    expect(actions(await report(['--key', gpx]))).toEqual({ [gpx]: 'undelete' });
    expect(await currentHash(gpx)).toMatch(/^[0-9a-f]{64}$/);
    // The scheduler sees no change: restoring is not a reason to fetch.
    const idle = await h.idleRun();
    expect(idle.apiCalls).toBe(1);
    expect(idle.enqueued).toBe(0);
  }, 90_000);

  it('rk-sync status --stack: ledger counts, budget, last run, queue and DLQ depth, alarms', async () => {
    const cw = new CloudWatchClient({
      endpoint: h.moto.endpoint,
      region: REGION,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    for (const name of ['DeadLetterQueueAlarm', 'AccountRevokedAlarm']) {
      await cw.send(
        new PutMetricAlarmCommand({
          AlarmName: `${STACK}-${name}-1A2B3C`,
          AlarmActions: [TOPIC],
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Statistic: 'Maximum',
          Period: 300,
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        }),
      );
    }
    // An unrelated alarm (not on the stack's topic) is not shown.
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: 'SomeoneElses',
        Namespace: 'AWS/SQS',
        MetricName: 'X',
        Statistic: 'Maximum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    );
    await cw.send(
      new SetAlarmStateCommand({
        AlarmName: `${STACK}-DeadLetterQueueAlarm-1A2B3C`,
        StateValue: 'ALARM',
        StateReason: 'a fetch message reached the DLQ',
      }),
    );
    await h.c.sqs.send(new SendMessageCommand({ QueueUrl: h.res.dlqUrl, MessageBody: '{}' }));
    const r = await runCli(
      ['--json', 'status', '--stack', STACK, '--rate-limit', '60', '--rate-window', '2'],
      AWS_ENV(),
    );
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as AwsStatusReport;
    const c = await h.counts();
    expect(s.table).toBe(h.res.tableName);
    expect(s.accounts).toHaveLength(1);
    expect(s.accounts[0]).toMatchObject({
      userId: h.userId,
      status: 'ACTIVE',
      counts: { synced: c.SYNCED, pending: c.PENDING, enqueued: c.ENQUEUED, deleted: c.DELETED },
      budget: { limit: 60 },
    });
    // The window as the budget enforces it: the API's 2 s plus its safety guard.
    expect(s.accounts[0]?.budget.windowSeconds).toBeGreaterThanOrEqual(2);
    expect(s.accounts[0]?.lastSchedulerRunAt).toMatch(/^\d{4}-/);
    expect(s.accounts[0]?.lastSchedulerRun?.apiCalls).toBe(1);
    expect(s.deadLetterDepth).toBe(1);
    expect(s.queueDepth).toBe(0);
    expect(s.bucketVersioning).toBe('Enabled');
    expect(Object.fromEntries(s.alarms.map((a) => [a.name.split('-')[1], a.state]))).toEqual({
      DeadLetterQueueAlarm: 'ALARM',
      AccountRevokedAlarm: 'OK',
    });
    // The human form says the same in lines.
    const text = await runCli(['status', '--stack', STACK], AWS_ENV());
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`synced ${c.SYNCED}`);
    expect(text.stdout).toContain('dead-letter queue: 1');
    expect(text.stdout).toMatch(/DeadLetterQueueAlarm-1A2B3C: ALARM/);
    await h.c.sqs.send(new PurgeQueueCommand({ QueueUrl: h.res.dlqUrl }));
  }, 60_000);

  it('point-in-time restore of the table, adopted by a redeploy: same ledger, idle run one call', async () => {
    const before = await h.counts();
    const drill = await restoreTableDrill(h, kept.tableName);
    expect(drill).toMatchObject({
      indexes: ['byWork'],
      deletionProtection: true,
      pitr: 'ENABLED',
      ttl: 'expiresAt',
    });
    await redeployAdopting(h, { ...kept, tableName: drill.target });
    expect(h.envs.scheduler.TABLE_NAME).toBe(drill.target);
    expect(await h.counts()).toEqual(before);
    const calls = h.sim.callLog.length;
    const idle = await h.idleRun();
    expect(idle.apiCalls).toBe(1);
    expect(idle.enqueued).toBe(0);
    expect(documentFetches(calls)).toEqual([]);
  }, 60_000);

  it('export before teardown: a copy of the bucket is accepted by rk-sync export, deletions kept', async () => {
    const gone = h.finishedIds().filter((id) => !added.includes(id))[20]!;
    deleted.push(gone);
    expect((await h.deleteActivity(gone)).item?.status).toBe('DELETED');
    const index = await h.rebuildIndex();
    expect(index.runs[0]?.outcome).toBe('ok');
    // `aws s3 sync s3://<BucketName> ./rk-export`: every current object, same keys.
    const dir = mkdtempSync(path.join(tmpdir(), 'rk-export-'));
    try {
      const store = new S3ObjectStore(h.c.s3, h.res.bucketName);
      let files = 0;
      for await (const key of store.list('')) {
        const file = path.join(dir, ...key.split('/'));
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, (await store.get(key)) ?? new Uint8Array());
        files++;
      }
      expect(files).toBeGreaterThan(4 * ACTIVITIES);
      const r = await runCli(['--data-dir', dir, '--json', 'export']);
      expect(r.code, r.stderr).toBe(0);
      const users = (
        JSON.parse(r.stdout) as { users: { userId: string; rows: number; failed: number }[] }
      ).users;
      expect(users).toEqual([expect.objectContaining({ userId: h.userId, failed: 0 })]);
      const ndjson = readFileSync(path.join(dir, 'index', h.userId, 'activities.ndjson'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { id: string; deleted: boolean });
      // The rows of the index the scheduler built in AWS, plus the still-recording activities
      // (AWS adds their row with the final fetch; a re-render from raw renders what is there).
      const live = [...(await h.storedActivities()).keys()].filter((id) => h.isLive(id));
      expect(ndjson.map((x) => x.id).sort()).toEqual([...index.csvIds, ...live].sort());
      // The deletion is still marked.
      expect(ndjson.filter((x) => x.deleted).map((x) => x.id)).toEqual([gone]);
      expect(users[0]?.rows).toBe(ndjson.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('invariants hold across the lifecycle: no loss, no duplicates, budget, no secret logged', async () => {
    const inv = await h.invariants({ deleted, edited: [] });
    expect(inv.notSynced).toEqual([]);
    expect(inv.missing).toEqual([]);
    expect(inv.duplicateWrites).toEqual([]);
    expect(inv.storedKeys).toBe(ACTIVITIES + added.length);
    expect(inv.maxCallsInWindow).toBeLessThanOrEqual(inv.limit);
    expect(inv.http429).toBe(0);
    expect(inv.dlqDepth).toBe(0);
    expect(inv.leakedSecrets).toBe(0);
  });
});
