/**
 * Who can link (issue #12, X9/X10) on the deployed design: moto tables from the template, the
 * real authorize/callback handlers, the simulator as Runkeeper with two users, and the real
 * `rk-sync invite` / `rk-sync unlink` processes with AWS credentials against moto.
 */
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAccountStore, DynamoAuthStateStore } from '../../functions/adapters/aws/dynamo.ts';
import { hashSecret } from '../../functions/core/sync/link.ts';
import { FUNCTION_IDS, type HandlerName, REGION } from '../helpers/aws-env.ts';
import { runCli } from '../helpers/cli.ts';
import { DeployedHarness } from '../helpers/deployed-harness.ts';

const h = new DeployedHarness({ activities: 3, users: 2, isolateClients: true });
let accounts: DynamoAccountStore;
let states: DynamoAuthStateStore;

beforeAll(async () => {
  await h.start();
  accounts = new DynamoAccountStore(h.c.ddb, h.res.tableName);
  states = new DynamoAuthStateStore(h.c.ddb, h.res.tableName);
}, 180_000);
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

  it('X17: every AWS call each function made here is an action its role is granted', async () => {
    // Finish the flows: the new owner's first sync, then Runkeeper de-authorises it (delete).
    h.userId = loser;
    await h.runScheduler();
    await h.drain();
    const t = await h.c.ssm.send(
      new GetParameterCommand({
        Name: `${h.envs.callback.TOKEN_PARAM_PREFIX}${loser}`,
        WithDecryption: true,
      }),
    );
    h.token = t.Parameter?.Value ?? '';
    expect((await h.deauthorizeAndDelete()).accountStatus).toBe('REVOKED');
    const used = h.actionsBy();
    expect(Object.keys(used).sort()).toEqual([
      'authorize',
      'callback',
      'deauthorize',
      'fetcher',
      'scheduler',
    ]);
    for (const [name, calls] of Object.entries(used) as [HandlerName, string[]][]) {
      const granted = grantedActions(name);
      for (const call of calls) {
        for (const action of iamActionsOf(call)) {
          expect([name, call, granted.some((g) => matches(g, action))]).toEqual([name, call, true]);
        }
      }
    }
    // And the public authorize function did nothing but read an invite and write a state.
    expect(used.authorize).toEqual(['DynamoDB:GetItem', 'DynamoDB:PutItem']);
  }, 90_000);
});

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

/** The IAM actions a recorded `Service:Command` needs. */
function iamActionsOf(call: string): string[] {
  const [service, command] = call.split(':') as [string, string];
  const s3: Record<string, string[]> = {
    HeadObject: ['s3:GetObject'],
    ListObjectsV2: ['s3:ListBucket'],
    ListObjectVersions: ['s3:ListBucketVersions'],
    DeleteObjects: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
  };
  if (service === 'S3') return s3[command] ?? [`s3:${command}`];
  if (service === 'SQS') return [`sqs:${command.replace(/Batch$/, '')}`];
  return [`${service.toLowerCase()}:${command}`];
}

function matches(granted: string, action: string): boolean {
  const re = new RegExp(`^${granted.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return re.test(action);
}

/** Every action the template grants the function's role. */
function grantedActions(name: HandlerName): string[] {
  const prefix = Object.entries(FUNCTION_IDS).find(([, n]) => n === name)![0];
  const res = h.template.Resources as Record<string, Json>;
  const roleId = Object.keys(res).find(
    (id) => id.startsWith(`${prefix}Role`) && res[id].Type === 'AWS::IAM::Role',
  )!;
  return Object.values(res)
    .filter(
      (r: Json) =>
        r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(`"${roleId}"`),
    )
    .flatMap((r: Json) => r.Properties.PolicyDocument.Statement)
    .filter((st: Json) => st.Effect === 'Allow')
    .flatMap((st: Json) => (Array.isArray(st.Action) ? st.Action : [st.Action]));
}
