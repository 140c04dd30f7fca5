/**
 * Who can link (issue #12, X9/X10) on the deployed design: moto tables from the template, the
 * real authorize/callback handlers, the simulator as Runkeeper with two users, and the real
 * `rk-sync invite` / `rk-sync unlink` processes with AWS credentials against moto.
 */
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAccountStore, DynamoAuthStateStore } from '../../functions/adapters/aws/dynamo.ts';
import { hashSecret } from '../../functions/core/sync/link.ts';
import { REGION } from '../helpers/aws-env.ts';
import { runCli } from '../helpers/cli.ts';
import { DeployedHarness } from '../helpers/deployed-harness.ts';

const h = new DeployedHarness({ activities: 3, users: 2 });
let accounts: DynamoAccountStore;
let states: DynamoAuthStateStore;

beforeAll(async () => {
  await h.start();
  accounts = new DynamoAccountStore(h.c.ddb, h.res.tableName);
  states = new DynamoAuthStateStore(h.c.ddb, h.res.tableName);
}, 60_000);
afterAll(async () => h.stop());

const awsEnv = () => ({
  AWS_ENDPOINT_URL: h.moto.endpoint,
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
});

async function hasToken(userId: string): Promise<boolean> {
  try {
    await h.c.ssm.send(
      new GetParameterCommand({ Name: `${h.envs.callback.TOKEN_PARAM_PREFIX}${userId}` }),
    );
    return true;
  } catch (e) {
    if ((e as Error).name === 'ParameterNotFound') return false;
    throw e;
  }
}

async function cliInvite(): Promise<{ invite: string; ownerUserId?: string }> {
  const r = await runCli(
    [
      '--json',
      'invite',
      '--table',
      h.res.tableName,
      '--authorize-url',
      'https://abc.execute-api.us-east-1.amazonaws.com/authorize',
    ],
    awsEnv(),
  );
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout.trim()) as { url: string; ownerUserId?: string };
  const invite = new URL(out.url).searchParams.get('invite') ?? '';
  h.secrets.push(invite);
  return { invite, ...(out.ownerUserId ? { ownerUserId: out.ownerUserId } : {}) };
}

describe('only the owner links (X9, X10)', () => {
  let winner = '';
  let loser = '';

  it('X9: /authorize without an invite is refused even before anyone linked', async () => {
    const r = await h.browserLink(undefined);
    expect(r.authorizeStatus).toBe(403);
    expect(await accounts.list()).toEqual([]);
  });

  it('X9: two concurrent first links with two invites: exactly one owns the stack', async () => {
    const [a, b] = [h.sim.users[0]!.userId, h.sim.users[1]!.userId];
    const [ia, ib] = [await h.invite(), await h.invite()];
    const results = await Promise.all([h.browserLink(ia, a), h.browserLink(ib, b)]);
    const words = results.map((r) => r.location);
    expect(words.sort()).toEqual(['/callback?result=linked', '/callback?result=not_owner']);
    const linked = await accounts.list();
    expect(linked).toHaveLength(1);
    winner = linked[0]!.userId;
    loser = winner === a ? b : a;
    expect(await states.owner()).toBe(winner);
    expect(await hasToken(winner)).toBe(true);
    expect(await hasToken(loser)).toBe(false);
  });

  it('X10: rk-sync invite binds the link to the owner; another account cannot use it', async () => {
    const { invite, ownerUserId } = await cliInvite();
    expect(ownerUserId).toBe(winner);
    const r = await h.browserLink(invite, loser);
    expect(r.location).toBe('/callback?result=not_owner');
    expect((await accounts.list()).map((x) => x.userId)).toEqual([winner]);
    // Not spent by the refused attempt: the owner re-links with the same link.
    expect((await h.browserLink(invite, winner)).location).toBe('/callback?result=linked');
    expect(await states.peekInvite(hashSecret(invite), Date.now())).toBeUndefined();
  });

  it('X9: rk-sync unlink removes an account on the stack; the next invite is a first link', async () => {
    const r = await runCli(
      [
        '--json',
        'unlink',
        winner,
        '--table',
        h.res.tableName,
        '--token-prefix',
        h.envs.callback.TOKEN_PARAM_PREFIX!,
      ],
      awsEnv(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ userId: winner, where: 'aws', wasLinked: true });
    expect(await accounts.list()).toEqual([]);
    expect(await hasToken(winner)).toBe(false);
    expect(await states.owner()).toBeUndefined();
    const next = await cliInvite();
    expect(next.ownerUserId).toBeUndefined();
    expect((await h.browserLink(next.invite, loser)).location).toBe('/callback?result=linked');
    expect(await states.owner()).toBe(loser);
    const bad = await runCli(['unlink', '../x', '--table', 't', '--token-prefix', '/p/'], awsEnv());
    expect(bad.code).toBe(2);
  });
});
