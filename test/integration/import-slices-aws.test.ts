/**
 * Issue #14 §1 on moto: the importer Lambda finishes any export by slices. An export ZIP is
 * uploaded; the upload event plans and fans out; the import queue is drained through the
 * handler with a short simulated deadline (a few entries per invocation), a crash injected
 * mid-slice, duplicate deliveries and a failed first fan-out. Every activity lands exactly
 * once: one raw object, one S3 version, one index row.
 */
import { ListObjectVersionsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAccountStore } from '../../functions/adapters/aws/dynamo.ts';
import { DynamoImportJobs, SqsSliceQueue } from '../../functions/adapters/aws/import-jobs.ts';
import { S3ObjectStore } from '../../functions/adapters/aws/s3.ts';
import { systemClock } from '../../functions/core/clock.ts';
import {
  SLICE_ENTRIES,
  SLICE_ROWS,
  type SliceMessage,
} from '../../functions/core/import/slices.ts';
import type { ObjectStore } from '../../functions/core/ports.ts';
import { createImporterHandler, SLICE_RESERVE_MS } from '../../functions/shared/app/importer.ts';
import { parseEnv } from '../../functions/shared/env.ts';
import { makeLogger, makeMetrics } from '../../functions/shared/platform.ts';
import { startSimulator } from '../../simulator/server.ts';
import { exportZipFrom } from '../fixtures/export-zip.ts';
import {
  functionEnv,
  type MotoClients,
  motoClients,
  type Provisioned,
  provision,
  synthTemplate,
  templateFacts,
} from '../helpers/aws-env.ts';
import { drainImportQueue } from '../helpers/import-queue.ts';
import { type Moto, startMoto } from '../helpers/moto.ts';

const ACTIVITIES = 90;
/** Entries an invocation may start before its simulated deadline is near. */
const ENTRIES_PER_INVOCATION = 15;

let moto: Moto;
let c: MotoClients;
let env: Provisioned;
let importerEnv: Record<string, string>;

beforeAll(async () => {
  moto = await startMoto();
  c = motoClients(moto.endpoint);
  const facts = templateFacts(synthTemplate({ clientId: 'test-client-id' }));
  env = await provision(moto.endpoint, c, facts, { prefix: 'slices' });
  importerEnv = functionEnv(facts, env, 'importer');
}, 120_000);

afterAll(async () => {
  await moto?.stop();
});

/** The S3 store, but the given puts throw once: the invocation dies mid-slice. */
function crashingStore(inner: ObjectStore, crashAt: Set<number>): ObjectStore {
  let puts = 0;
  return {
    put: async (key, body, type) => {
      if (crashAt.delete(++puts)) throw new Error(`injected crash at put ${puts}`);
      return inner.put(key, body, type);
    },
    get: (k) => inner.get(k),
    hash: (k) => inner.hash(k),
    list: (p) => inner.list(p),
    ...(inner.stat ? { stat: (k: string) => inner.stat!(k) } : {}),
  };
}

async function versionsUnder(prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (;;) {
    const r = await c.s3.send(
      new ListObjectVersionsCommand({
        Bucket: env.bucketName,
        Prefix: prefix,
        ...(keyMarker ? { KeyMarker: keyMarker } : {}),
        ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
      }),
    );
    for (const v of r.Versions ?? []) out.set(v.Key!, (out.get(v.Key!) ?? 0) + 1);
    if (!r.IsTruncated) return out;
    keyMarker = r.NextKeyMarker;
    versionMarker = r.NextVersionIdMarker;
  }
}

describe('importer Lambda: a large export in bounded slices (issue #14 §1)', () => {
  it('lands every activity exactly once through deadlines, crashes and re-deliveries', async () => {
    const sim = await startSimulator({ activities: ACTIVITIES, seed: 14 });
    const userId = sim.users[0]!.userId;
    const docs = sim
      .activityIds(userId)
      .map((id) => sim.document(userId, 'fitnessActivities', id) as Record<string, unknown>);
    await sim.close();
    const { zip, withGpx } = exportZipFrom(docs);
    expect(withGpx).toBeGreaterThan(SLICE_ENTRIES);
    const accounts = new DynamoAccountStore(c.ddb, env.tableName);
    await accounts.save({
      userId,
      status: 'ACTIVE',
      linkedAt: 1,
      resources: {},
      discoveredAt: 1,
      cursors: {},
      version: 0,
    });
    const key = `imports/${userId}/runkeeper-data-export.zip`;
    await c.s3.send(new PutObjectCommand({ Bucket: env.bucketName, Key: key, Body: zip }));

    const parsed = parseEnv('importer', importerEnv);
    const sqsQueue = new SqsSliceQueue(c.sqs, parsed.IMPORT_QUEUE_URL);
    let failSends = 1;
    const sent: SliceMessage[] = [];
    const importer = createImporterHandler(
      parsed,
      { clients: c, clock: systemClock, logger: makeLogger(), metrics: makeMetrics() },
      {
        accounts,
        // Crashes in the middle of slices: after some of an entry's files are written.
        store: crashingStore(new S3ObjectStore(c.s3, env.bucketName), new Set([9, 40, 170])),
        jobs: new DynamoImportJobs(c.ddb, env.tableName),
        queue: {
          send: async (m) => {
            // The first fan-out dies after recording the job, before any message is sent.
            if (failSends-- > 0) throw new Error('injected crash before the fan-out');
            sent.push(...m);
            await sqsQueue.send(m);
          },
        },
      },
    );
    const event = { Records: [{ s3: { bucket: { name: env.bucketName }, object: { key } } }] };
    const ctx = { functionName: 'importer', awsRequestId: 'r' };
    await expect(
      importer(event, { ...ctx, getRemainingTimeInMillis: () => 900_000 }),
    ).rejects.toThrow(/before the fan-out/);
    // S3 retries the event: the recorded job's pending slices are sent.
    const planned = await importer(event, { ...ctx, getRemainingTimeInMillis: () => 900_000 });
    const slices = planned.imports[0]?.slices ?? 0;
    expect(planned.imports[0]).toMatchObject({ key, userId, sent: slices, errors: 0 });
    // The ZIP's files (the GPX, cardioActivities.csv and measurements.csv) in slices of
    // SLICE_ENTRIES, then the activities without GPX.
    const files = withGpx + 2;
    expect(slices).toBe(
      Math.ceil(files / SLICE_ENTRIES) + Math.ceil((ACTIVITIES - withGpx) / SLICE_ROWS),
    );

    // A short deadline: each invocation may start ENTRIES_PER_INVOCATION entries, then the
    // remaining time is below the reserve and the rest of its slice goes back to the queue.
    const drained = await drainImportQueue(c.sqs, env.importQueueUrl!, importer, {
      context: () => {
        let checks = 0;
        return {
          ...ctx,
          getRemainingTimeInMillis: () =>
            ++checks <= ENTRIES_PER_INVOCATION ? 900_000 : SLICE_RESERVE_MS - 1,
        };
      },
      duplicate: (_body, n) => n < 16 && n % 4 === 1,
    });
    // The injected crashes failed their invocations (the writes are retried, not reported).
    expect(drained.failures).toBe(3);
    expect(drained.slices.every((s) => s.errors === 0)).toBe(true);
    for (const s of drained.slices) {
      expect(s.activities).toBeLessThanOrEqual(ENTRIES_PER_INVOCATION);
    }
    expect(drained.slices.filter((s) => s.continuedAt !== undefined).length).toBeGreaterThan(
      slices,
    );
    // The index was built when the last slice finished (again on a duplicate: harmless).
    expect(drained.slices.some((s) => s.indexed)).toBe(true);
    expect(sent.length).toBeGreaterThan(slices);

    // Exactly once: one raw object and one S3 version per activity, one index row each.
    const raw = await versionsUnder(`raw/${userId}/fitnessActivities/`);
    expect(raw.size).toBe(ACTIVITIES);
    expect([...raw.values()].every((n) => n === 1)).toBe(true);
    const originals = await versionsUnder(`raw/${userId}/export/`);
    expect(originals.size).toBe(files);
    expect([...originals.values()].every((n) => n === 1)).toBe(true);
    const store = new S3ObjectStore(c.s3, env.bucketName);
    const ndjson = new TextDecoder().decode(await store.get(`index/${userId}/activities.ndjson`));
    const ids = ndjson
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toHaveLength(ACTIVITIES);
    expect(new Set(ids)).toEqual(
      new Set([...raw.keys()].map((k) => k.slice(k.lastIndexOf('/') + 1, -'.json'.length))),
    );
    expect(await store.get(`index/${userId}/manifest.json`)).toBeDefined();

    // The upload event again: the job is finished, nothing is sent.
    const again = await importer(event, { ...ctx, getRemainingTimeInMillis: () => 900_000 });
    expect(again.imports[0]).toMatchObject({ sent: 0 });
  }, 600_000);
});
