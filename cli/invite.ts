/**
 * `rk-sync invite`: the owner of a deployed stack mints a one-time link that allows one
 * (re)authorisation through the stack's /authorize route. It writes only the link's hash to
 * the stack's table, with the owner's own AWS credentials (the default credential chain), and
 * prints the link once; nobody who merely finds the authorise URL can link an account. Every
 * link needs one, the first included; once an owner is recorded the link is bound to them.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAuthStateStore } from '../functions/adapters/aws/dynamo.ts';
import { hashSecret, newSecret } from '../functions/core/sync/link.ts';
import { CliError, EXIT } from './errors.ts';
import { requireOutput, type StackTarget, stackOutputs } from './stack-outputs.ts';

export interface InviteOptions {
  outputs?: string;
  stack?: string;
  table?: string;
  authorizeUrl?: string;
  region?: string;
  hours: number;
}

/** Named outputs of the stack: cdk-outputs.json (`--outputs`), else CloudFormation (`--stack`). */
export async function resolveOutputs(
  o: StackTarget,
  names: string[],
): Promise<Record<string, string | undefined>> {
  const out = await stackOutputs(o);
  return Object.fromEntries(names.map((n) => [n, out.values[n]]));
}

/**
 * Table name and authorise URL from flags, else from the stack's outputs: `--outputs` /
 * ./cdk-outputs.json (`npm run deploy`), or CloudFormation (`npx cdk deploy`, `--stack`).
 */
export async function resolveTarget(
  o: InviteOptions,
): Promise<{ table: string; authorizeUrl: string }> {
  let table = o.table;
  let url = o.authorizeUrl;
  if (!table || !url) {
    const out = await stackOutputs(o);
    table ??= requireOutput(out, 'TableName');
    url ??= requireOutput(out, 'AuthorizeUrl');
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CliError('--authorize-url is not a URL', EXIT.usage);
  }
  if (u.protocol !== 'https:' && u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') {
    throw new CliError('--authorize-url must be https', EXIT.usage);
  }
  return { table, authorizeUrl: u.toString() };
}

export async function mintStackInvite(
  o: InviteOptions,
  now = Date.now(),
  client?: DynamoDBDocumentClient,
): Promise<{ url: string; expiresAt: string; ownerUserId?: string }> {
  if (!Number.isFinite(o.hours) || o.hours <= 0 || o.hours > 168) {
    throw new CliError('--hours must be between 0 and 168', EXIT.usage);
  }
  const { table, authorizeUrl } = await resolveTarget(o);
  const db =
    client ??
    DynamoDBDocumentClient.from(new DynamoDBClient(o.region ? { region: o.region } : {}), {
      marshallOptions: { removeUndefinedValues: true },
    });
  const invite = newSecret();
  const expires = now + o.hours * 3_600_000;
  const states = new DynamoAuthStateStore(db, table);
  // Bound to the owner's Runkeeper user id once one is recorded: a stranger holding the
  // link cannot use it. Before the first link it is unbound (the first link claims the owner).
  let owner: string | undefined;
  try {
    owner = await states.owner();
    await states.createInvite(hashSecret(invite), expires, owner);
  } catch (e) {
    throw new CliError(
      `could not write the invite to ${table}: ${(e as Error).name}: ${(e as Error).message}`,
      EXIT.failed,
    );
  }
  const u = new URL(authorizeUrl);
  u.searchParams.set('invite', invite);
  return {
    url: u.toString(),
    expiresAt: new Date(expires).toISOString(),
    ...(owner !== undefined ? { ownerUserId: owner } : {}),
  };
}
