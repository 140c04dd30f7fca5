/** `rk-sync invite` against moto: the owner's one-time link is written hashed and works once. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAuthStateStore } from '../../functions/adapters/aws/dynamo.ts';
import { hashSecret } from '../../functions/core/sync/link.ts';
import {
  createTableFromTemplate,
  type MotoClients,
  motoClients,
  REGION,
  synthTemplate,
  templateFacts,
  uniqueName,
} from '../helpers/aws-env.ts';
import { createOutputsStack } from '../helpers/cfn-stack.ts';
import { runCli } from '../helpers/cli.ts';
import { type Moto, startMoto } from '../helpers/moto.ts';

let moto: Moto;
let c: MotoClients;
let table: string;
beforeAll(async () => {
  moto = await startMoto();
  c = motoClients(moto.endpoint);
  table = uniqueName('rk-invite');
  await createTableFromTemplate(c, templateFacts(synthTemplate({})), table);
}, 120_000);
afterAll(async () => moto?.stop());
const env = () => ({
  AWS_ENDPOINT_URL: moto.endpoint,
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
});

describe('rk-sync invite', () => {
  it('prints a link whose invite works exactly once; only its hash is stored', async () => {
    const r = await runCli(
      [
        '--json',
        'invite',
        '--table',
        table,
        '--authorize-url',
        'https://abc.execute-api.us-east-1.amazonaws.com/authorize',
        '--hours',
        '2',
      ],
      env(),
    );
    expect(r.code, r.stderr).toBe(0);
    const { url, expiresAt } = JSON.parse(r.stdout.trim()) as { url: string; expiresAt: string };
    const invite = new URL(url).searchParams.get('invite')!;
    expect(invite).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(3_500_000);
    const scan = JSON.stringify(
      await c.rawDdb.send(
        new (await import('@aws-sdk/client-dynamodb')).ScanCommand({ TableName: table }),
      ),
    );
    expect(scan).not.toContain(invite);
    expect(scan).toContain(hashSecret(invite));
    const states = new DynamoAuthStateStore(c.ddb, table);
    expect(await states.consumeInvite(hashSecret(invite), Date.now())).toBe(true);
    expect(await states.consumeInvite(hashSecret(invite), Date.now())).toBe(false);
  });

  it('without cdk-outputs.json: reads TableName and AuthorizeUrl from CloudFormation (--stack)', async () => {
    const authorizeUrl = 'https://xyz.execute-api.us-east-1.amazonaws.com/authorize';
    await createOutputsStack(moto.endpoint, 'RkSyncInvite', {
      TableName: table,
      AuthorizeUrl: authorizeUrl,
    });
    const r = await runCli(['--json', 'invite', '--stack', 'RkSyncInvite'], env());
    expect(r.code, r.stderr).toBe(0);
    const { url } = JSON.parse(r.stdout.trim()) as { url: string };
    expect(url.startsWith(`${authorizeUrl}?invite=`)).toBe(true);
    const invite = new URL(url).searchParams.get('invite')!;
    const states = new DynamoAuthStateStore(c.ddb, table);
    expect(await states.consumeInvite(hashSecret(invite), Date.now())).toBe(true);
    // A stack that does not exist: one line naming it, exit 2.
    const missing = await runCli(['invite', '--stack', 'NoSuchStack'], env());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no stack NoSuchStack/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  }, 90_000);

  it('without a table or outputs file: one line, exit 2', async () => {
    const r = await runCli(['invite', '--outputs', '/nonexistent/cdk-outputs.json']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
