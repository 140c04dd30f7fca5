/**
 * The AWS Strava mirror on moto (real SDK requests) against the Strava simulator, virtual
 * time: the pusher handler built from the synthesised template's environment, ticks every
 * 15 minutes until the archive is on Strava exactly once, then an idle tick makes no call.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAccountStore } from '../../functions/adapters/aws/dynamo.ts';
import { S3ObjectStore } from '../../functions/adapters/aws/s3.ts';
import { DynamoPushLedger, SsmStravaTokens } from '../../functions/adapters/aws/strava.ts';
import { ManualClock } from '../../functions/core/clock.ts';
import { rerenderAll } from '../../functions/core/export/derive.ts';
import { silentLog } from '../../functions/core/ports.ts';
import {
  createStravaPusherHandler,
  parseStravaPusherEnv,
} from '../../functions/shared/app/strava-pusher.ts';
import { makeLogger, makeMetrics } from '../../functions/shared/platform.ts';
import { type StravaSimulator, startStravaSimulator } from '../../strava-simulator/server.ts';
import {
  createTableFromTemplate,
  type MotoClients,
  motoClients,
  type Provisioned,
  provision,
  synthTemplate,
  type TemplateFacts,
  templateFacts,
} from '../helpers/aws-env.ts';
import { spawnCli } from '../helpers/cli.ts';
import { type Moto, startMoto } from '../helpers/moto.ts';
import { approveLinkInBrowser, linkStrava, simulatedArchive } from '../helpers/strava-harness.ts';

let moto: Moto;
let c: MotoClients;
let facts: TemplateFacts;
let env: Provisioned;
let tplEnvKeys: string[];
let sim: StravaSimulator;
const clock = new ManualClock(Date.UTC(2026, 2, 2, 8, 7));

beforeAll(async () => {
  // The shared resources come from the default template; the pusher's environment from the
  // -c strava=true one (templateFacts expects the fetch queue pair only).
  const tpl = synthTemplate({ clientId: 'test-client-id', strava: 'true', stravaClientId: '1' });
  moto = await startMoto();
  c = motoClients(moto.endpoint);
  facts = templateFacts(synthTemplate({ clientId: 'test-client-id' }));
  env = await provision(moto.endpoint, c, facts, { prefix: 'strava' });
  const fn = Object.entries(
    tpl.Resources as Record<
      string,
      { Type: string; Properties: { Environment?: { Variables: Record<string, unknown> } } }
    >,
  ).find(([id, r]) => id.startsWith('StravaPusherFunction') && r.Type === 'AWS::Lambda::Function')!;
  tplEnvKeys = Object.keys(fn[1].Properties.Environment!.Variables).filter(
    (k) => !k.startsWith('POWERTOOLS_') && k !== 'NODE_OPTIONS',
  );
  sim = await startStravaSimulator({ clock });
}, 180_000);

afterAll(async () => {
  await sim?.close();
  await moto?.stop();
});

describe('Strava mirror on moto', { timeout: 240_000 }, () => {
  it('DynamoDB push ledger: compare-and-swap on every write', async () => {
    const l = new DynamoPushLedger(c.ddb, env.tableName);
    const rec = {
      dest: 'strava' as const,
      userId: '5',
      id: '9',
      state: 'UPLOADING' as const,
      attempts: 1,
      updatedAt: 1,
      version: 0,
    };
    expect(await l.save(rec)).toBe(true);
    expect(await l.save(rec)).toBe(false);
    const got = await l.get('strava', '5', '9');
    expect(got).toMatchObject({ state: 'UPLOADING', version: 1 });
    expect(await l.save({ ...got!, state: 'DONE' })).toBe(true);
    expect(await l.save({ ...got!, state: 'FAILED' })).toBe(false);
    expect((await l.list('strava', '5')).map((r) => r.state)).toEqual(['DONE']);
  });

  it('ticks push the indexed archive to Strava exactly once, 0 × 429; an idle tick makes no call', async () => {
    const store = new S3ObjectStore(c.s3, env.bucketName);
    const userId = await simulatedArchive(store, 40, 11);
    await rerenderAll(store, userId, silentLog); // the per-activity rows and activities.ndjson
    await new DynamoAccountStore(c.ddb, env.tableName).save({
      userId,
      status: 'ACTIVE',
      linkedAt: 1,
      resources: {},
      discoveredAt: 1,
      cursors: {},
      version: 0,
    });
    const vars: Record<string, string> = {
      TABLE_NAME: env.tableName,
      BUCKET_NAME: env.bucketName,
      STRAVA_CLIENT_ID: sim.clientId,
      STRAVA_CLIENT_SECRET_PARAM: '/rk-sync/test/strava-secret',
      STRAVA_TOKEN_PARAM_PREFIX: '/rk-sync/RkSync/strava-tokens/',
      STRAVA_API_BASE_URL: sim.apiBaseUrl,
      STRAVA_OAUTH_BASE_URL: sim.oauthBaseUrl,
      STRAVA_LIMITS: '200,2000,100,1000',
      STRAVA_MUTE: 'true',
      TOKEN_KMS_KEY_ID: env.kmsKeyArn,
    };
    // The function gets exactly the variables the template gives it.
    expect(Object.keys(vars).sort()).toEqual([...tplEnvKeys].sort());
    await c.ssm.send(
      new PutParameterCommand({
        Name: vars.STRAVA_CLIENT_SECRET_PARAM,
        Value: sim.clientSecret,
        Type: 'SecureString',
      }),
    );
    await linkStrava(sim, new SsmStravaTokens(c.ssm, vars.STRAVA_TOKEN_PARAM_PREFIX!, userId));
    const handler = createStravaPusherHandler(parseStravaPusherEnv(vars), {
      clients: c,
      clock,
      logger: makeLogger(),
      metrics: makeMetrics(),
    });
    const ctx = { getRemainingTimeInMillis: () => 300_000 };
    let ticks = 0;
    for (; ticks < 20; ticks++) {
      const r = await handler({ Records: [{ body: '{"tick":true}' }] }, ctx);
      expect(r.pushes).toHaveLength(1);
      if (r.pushes[0]!.remaining === 0 && r.pushes[0]!.stopped === 'done') break;
      clock.advance(15 * 60_000);
    }
    expect(sim.activities()).toHaveLength(40);
    expect([...sim.countByExternalId().values()].every((n) => n === 1)).toBe(true);
    expect(sim.http429()).toBe(0);
    expect(sim.activities().every((a) => a.hide_from_home === true)).toBe(true);
    const before = sim.calls().length;
    clock.advance(15 * 60_000);
    const idle = await handler({ Records: [{ body: '{"tick":true}' }] }, ctx);
    expect(idle.pushes[0]).toMatchObject({ alreadyDone: 40, apiCalls: 0 });
    expect(sim.calls().length).toBe(before);
  });
  it('rk-sync link strava --aws: the loopback flow writes the tokens to the stack SSM parameter with the owner credentials', async () => {
    const table = `${env.tableName}-link`;
    await createTableFromTemplate(c, facts, table);
    await new DynamoAccountStore(c.ddb, table).save({
      userId: '31337',
      status: 'ACTIVE',
      linkedAt: 1,
      resources: {},
      discoveredAt: 1,
      cursors: {},
      version: 0,
    });
    const dir = mkdtempSync(join(tmpdir(), 'rk-strava-aws-'));
    const outputs = join(dir, 'cdk-outputs.json');
    const prefix = '/rk-sync/LinkTest/strava-tokens/';
    writeFileSync(
      outputs,
      JSON.stringify({ LinkTest: { TableName: table, StravaTokenParameterPrefix: prefix } }),
    );
    const run = spawnCli(
      [
        '--data-dir',
        join(dir, 'data'),
        'link',
        'strava',
        '--aws',
        '--outputs',
        outputs,
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
      {
        STRAVA_CLIENT_SECRET: sim.clientSecret,
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
      },
    );
    await approveLinkInBrowser(run, 60_000);
    const { code } = await run.exited;
    expect(code, run.stderr()).toBe(0);
    expect(run.stdout()).toContain('archive user 31337');
    const stored = await new SsmStravaTokens(c.ssm, prefix, '31337').get();
    expect(stored?.refreshToken).toMatch(/^[0-9a-f]{40}$/);
    expect(run.stdout() + run.stderr()).not.toContain(stored!.refreshToken);
    rmSync(dir, { recursive: true, force: true });
  });
});
