/**
 * The DynamoDB, S3, SQS and SSM adapters (and the importer Lambda) against moto, with the table, bucket and queue
 * created from the synthesised stack template. The DynamoDB adapters pass the same contract
 * suites as the in-memory and SQLite ones.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DescribeParametersCommand, GetParameterCommand } from '@aws-sdk/client-ssm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DynamoAccountStore,
  DynamoAuthStateStore,
  DynamoBudgetStore,
  DynamoLedger,
  decodeCalls,
  encodeCalls,
} from '../../functions/adapters/aws/dynamo.ts';
import { S3ObjectStore } from '../../functions/adapters/aws/s3.ts';
import {
  CachedTokenStore,
  SqsWorkQueue,
  SsmTokenStore,
} from '../../functions/adapters/aws/sqs-ssm.ts';
import { SlidingWindowBudget } from '../../functions/core/budget.ts';
import { systemClock } from '../../functions/core/clock.ts';
import { createImporterHandler } from '../../functions/shared/app/importer.ts';
import { parseEnv } from '../../functions/shared/env.ts';
import { makeLogger, makeMetrics } from '../../functions/shared/platform.ts';
import { startSimulator } from '../../simulator/server.ts';
import { callBudgetContract } from '../contract/call-budget.contract.ts';
import {
  accountStoreContract,
  authStateContract,
  ledgerContract,
} from '../contract/ledger.contract.ts';
import { exportZipFrom } from '../fixtures/export-zip.ts';
import {
  createTableFromTemplate,
  functionEnv,
  type MotoClients,
  motoClients,
  type Provisioned,
  provision,
  synthTemplate,
  type TemplateFacts,
  templateFacts,
  uniqueName,
} from '../helpers/aws-env.ts';
import { drainImportQueue } from '../helpers/import-queue.ts';
import { type Moto, startMoto } from '../helpers/moto.ts';

// The budget contract's utilisation property makes ~5,000 sequential DynamoDB requests
// (moto answers each in ~5 ms): give it room when other suites share the CPU.
vi.setConfig({ testTimeout: 120_000 });

let moto: Moto;
let c: MotoClients;
let facts: TemplateFacts;
let env: Provisioned;

beforeAll(async () => {
  const [m, tpl] = await Promise.all([
    startMoto(),
    Promise.resolve(synthTemplate({ clientId: 'test-client-id' })),
  ]);
  moto = m;
  c = motoClients(moto.endpoint);
  facts = templateFacts(tpl);
  env = await provision(moto.endpoint, c, facts, { prefix: 'adapters' });
});

afterAll(async () => {
  await moto?.stop();
});

/** A fresh table per store: contract factories return empty stores. */
async function freshTable(): Promise<string> {
  const name = uniqueName('contract');
  await createTableFromTemplate(c, facts, name);
  return name;
}

callBudgetContract(
  'DynamoDB (moto)',
  async (cfg) => new SlidingWindowBudget(new DynamoBudgetStore(c.ddb, await freshTable()), cfg),
  { runs: 10 },
);
ledgerContract('DynamoDB (moto)', async () => new DynamoLedger(c.ddb, await freshTable()));
accountStoreContract(
  'DynamoDB (moto)',
  async () => new DynamoAccountStore(c.ddb, await freshTable()),
);
authStateContract(
  'DynamoDB (moto)',
  async () => new DynamoAuthStateStore(c.ddb, await freshTable()),
);

describe('budget item encoding', () => {
  it('round-trips call timestamps (sorted, gaps in base 36) and reads the old list form', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4_000_000_000_000 }), { maxLength: 300 }),
        (a) => {
          const sorted = [...a].sort((x, y) => x - y);
          expect(decodeCalls(encodeCalls(a))).toEqual(sorted);
        },
      ),
    );
    expect(decodeCalls([3, 5])).toEqual([3, 5]);
    expect(decodeCalls(undefined)).toEqual([]);
    expect(decodeCalls(encodeCalls([10.2, 5]))).toEqual([5, 11]);
    expect(
      encodeCalls(Array.from({ length: 100 }, (_, i) => 1_795_755_000_000 + i * 9_000)).length,
    ).toBeLessThan(500);
  });
});

describe('template-derived resources', () => {
  it('the table, queue and bucket carry the stack settings', () => {
    expect(facts.table.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(facts.table.TimeToLiveSpecification).toEqual({
      AttributeName: 'expiresAt',
      Enabled: true,
    });
    expect(facts.table.GlobalSecondaryIndexes?.[0]).toMatchObject({
      IndexName: 'byWork',
      KeySchema: [
        { AttributeName: 'workPk', KeyType: 'HASH' },
        { AttributeName: 'workSk', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    });
    expect(facts.queue.maxReceiveCount).toBeGreaterThanOrEqual(5);
    expect(facts.bucket.versioned).toBe(true);
  });
});

describe('S3ObjectStore', () => {
  it('skips identical bytes, versions changes and purges every version', async () => {
    const s = new S3ObjectStore(c.s3, env.bucketName);
    const body = new TextEncoder().encode('{"a":1}');
    const first = await s.put('raw/1/fitnessActivities/5.json', body, 'application/json');
    expect(first.written).toBe(true);
    expect(first.versionId).toBeTruthy();
    const again = await s.put('raw/1/fitnessActivities/5.json', body, 'application/json');
    expect(again).toEqual({ written: false, versionId: first.versionId });
    const changed = await s.put(
      'raw/1/fitnessActivities/5.json',
      new TextEncoder().encode('{"a":2}'),
      'application/json',
    );
    expect(changed.written).toBe(true);
    expect(changed.versionId).not.toBe(first.versionId);
    expect(new TextDecoder().decode(await s.get('raw/1/fitnessActivities/5.json'))).toBe('{"a":2}');
    expect(await s.get('raw/1/fitnessActivities/404.json')).toBeUndefined();
    await s.put('raw/2/fitnessActivities/7.json', body, 'application/json');
    const keys: string[] = [];
    for await (const k of s.list('raw/1/')) keys.push(k);
    expect(keys).toEqual(['raw/1/fitnessActivities/5.json']);
    expect(await s.purge('raw/1/')).toBe(2);
    expect(await s.hash('raw/1/fitnessActivities/5.json')).toBeUndefined();
    expect(await s.hash('raw/2/fitnessActivities/7.json')).toBeTruthy();
  });
});

describe('SqsWorkQueue and SsmTokenStore', () => {
  it('sends batches of at most ten with per-message delays', async () => {
    const q = new SqsWorkQueue(c.sqs, env.queueUrl);
    const before = c.counter.snapshot();
    await q.send(
      Array.from({ length: 12 }, (_, i) => ({
        body: { userId: '1', feed: 'fitnessActivities' as const, id: String(i + 1), rev: 1 },
        delaySeconds: i < 11 ? 0 : 60,
      })),
    );
    expect(c.counter.since(before)['SQS:SendMessageBatch']).toBe(2);
    const a = await c.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: env.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    expect(a.Attributes?.ApproximateNumberOfMessages).toBe('11');
    expect(a.Attributes?.ApproximateNumberOfMessagesDelayed).toBe('1');
    const r = await c.sqs.send(new ReceiveMessageCommand({ QueueUrl: env.queueUrl }));
    expect(JSON.parse(r.Messages?.[0]?.Body ?? '{}')).toMatchObject({ userId: '1', rev: 1 });
  });

  it('stores tokens as SecureStrings under the prefix and reads them back decrypted', async () => {
    const t = new SsmTokenStore(c.ssm, '/rk-sync/test/tokens/', { kmsKeyId: env.kmsKeyArn });
    expect(await t.get('42')).toBeUndefined();
    await t.put('42', 'tok-secret');
    await t.put('42', 'tok-secret-2');
    expect(await t.get('42')).toBe('tok-secret-2');
    const raw = await c.ssm.send(new GetParameterCommand({ Name: '/rk-sync/test/tokens/42' }));
    expect(raw.Parameter?.Type).toBe('SecureString');
    expect(raw.Parameter?.Value).not.toBe('tok-secret-2');
    await t.delete('42');
    await t.delete('42');
    expect(await t.get('42')).toBeUndefined();
    expect(() => new SsmTokenStore(c.ssm, 'no-slash')).toThrow();
    // The warm-container cache: one SSM read for repeated gets, dropped on put/delete.
    const cached = new CachedTokenStore(t);
    await cached.put('43', 'tok-a');
    const before = c.counter.snapshot();
    expect(await cached.get('43')).toBe('tok-a');
    expect(await cached.get('43')).toBe('tok-a');
    expect(c.counter.since(before)['SSM:GetParameter']).toBe(1);
    await cached.delete('43');
    expect(await cached.get('43')).toBeUndefined();
    await expect(new SsmTokenStore(c.ssm, '/p/').put('1', 'x')).rejects.toThrow(/read-only/);
  });

  it('without a KMS key id (encryption=aws-managed) writes SecureStrings under aws/ssm', async () => {
    const prefix = '/rk-sync/test-aws-managed/tokens/';
    const sent: { KeyId?: string; Type?: string }[] = [];
    const spy =
      (next: (a: unknown) => Promise<unknown>, ctx: { commandName?: string }) =>
      async (args: unknown) => {
        if (ctx.commandName === 'PutParameterCommand') {
          sent.push((args as { input: { KeyId?: string; Type?: string } }).input);
        }
        return next(args);
      };
    c.ssm.middlewareStack.add(spy as never, { step: 'initialize', name: 'rkSpyPutParameter' });
    try {
      const t = new SsmTokenStore(c.ssm, prefix, { kmsKeyId: undefined });
      await t.put('44', 'tok-default-key');
      const cmk = new SsmTokenStore(c.ssm, prefix, { kmsKeyId: env.kmsKeyArn });
      await cmk.put('45', 'tok-cmk');
      expect(sent).toHaveLength(2);
      expect(sent[0]?.Type).toBe('SecureString');
      expect(sent[0]).not.toHaveProperty('KeyId');
      expect(sent[1]?.KeyId).toBe(env.kmsKeyArn);
      expect(await t.get('44')).toBe('tok-default-key');
      const raw = await c.ssm.send(new GetParameterCommand({ Name: `${prefix}44` }));
      expect(raw.Parameter?.Type).toBe('SecureString');
      expect(raw.Parameter?.Value).not.toBe('tok-default-key');
      const described = await c.ssm.send(
        new DescribeParametersCommand({
          ParameterFilters: [{ Key: 'Name', Values: [`${prefix}44`, `${prefix}45`] }],
        }),
      );
      const keyOf = (n: string) => described.Parameters?.find((d) => d.Name === n)?.KeyId;
      expect(keyOf(`${prefix}44`)).toBe('alias/aws/ssm');
      expect(keyOf(`${prefix}45`)).toBe(env.kmsKeyArn);
      await t.delete('44');
      await t.delete('45');
    } finally {
      c.ssm.middlewareStack.remove('rkSpyPutParameter');
    }
  });
});

const IMPORT_CTX = {
  functionName: 'importer',
  awsRequestId: 'r',
  getRemainingTimeInMillis: () => 900_000,
};

async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of new S3ObjectStore(c.s3, env.bucketName).list(prefix)) out.push(k);
  return out;
}

describe('importer Lambda (export ZIP under imports/)', () => {
  it('imports imports/{userId}/export.zip into the archive, idempotently', async () => {
    const sim = await startSimulator({ activities: 12, seed: 5 });
    const userId = sim.users[0]!.userId;
    const docs = sim
      .activityIds(userId)
      .map((id) => sim.document(userId, 'fitnessActivities', id) as Record<string, unknown>);
    await sim.close();
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
    const { zip } = exportZipFrom(docs);
    const key = `imports/${userId}/my export.zip`;
    await c.s3.send(new PutObjectCommand({ Bucket: env.bucketName, Key: key, Body: zip }));
    const importer = createImporterHandler(
      parseEnv('importer', functionEnv(facts, env, 'importer')),
      {
        clients: c,
        clock: systemClock,
        logger: makeLogger(),
        metrics: makeMetrics(),
      },
    );
    const event = {
      Records: [
        {
          s3: {
            bucket: { name: env.bucketName },
            object: { key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+') },
          },
        },
      ],
    };
    const before = c.counter.snapshot();
    const r = await importer(event, IMPORT_CTX);
    // The files in one slice, the activities without GPX in another.
    expect(r.imports).toEqual([{ key, userId, slices: 2, sent: 2, errors: 0 }]);
    const drained = await drainImportQueue(c.sqs, env.importQueueUrl!, importer, {
      context: () => IMPORT_CTX,
    });
    expect(drained.slices.map((s) => s.n).sort()).toEqual([0, 1]);
    expect(drained.slices.reduce((n, s) => n + s.activities, 0)).toBe(12);
    expect(drained.slices.every((s) => s.errors === 0)).toBe(true);
    expect(drained.slices.map((s) => s.indexed)).toEqual([false, true]);
    expect(c.counter.since(before)['S3:GetObject']).toBeGreaterThan(1);
    const raw = await keysUnder(`raw/${userId}/fitnessActivities/`);
    expect(raw).toHaveLength(12);
    expect(raw.every((k) => /\/9\d{19}\.json$/.test(k))).toBe(true);
    expect((await keysUnder(`index/${userId}/`)).length).toBeGreaterThan(0);
    const puts = c.counter.snapshot();
    // The same upload event again (S3 delivers at least once): the job is finished, nothing
    // is sent or written.
    const again = await importer(event, IMPORT_CTX);
    expect(again.imports[0]?.sent).toBe(0);
    expect(c.counter.since(puts)['S3:PutObject'] ?? 0).toBe(0);
    // No owner: not imported.
    const none = await importer(
      {
        Records: [{ s3: { bucket: { name: env.bucketName }, object: { key: 'imports/1/x.zip' } } }],
      },
      IMPORT_CTX,
    );
    expect(none.imports[0]).toEqual({
      key: 'imports/1/x.zip',
      skipped: 'no matching linked account',
    });
  }, 60_000);
});
