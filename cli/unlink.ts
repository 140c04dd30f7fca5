/**
 * `rk-sync unlink <userId>`: remove a linked account, so it is never synced again. Its token
 * is deleted and its account record goes; the archive keeps what was stored.
 *
 * - Locally: from the data directory's state database and credentials file.
 * - On a deployed stack (with --outputs, --stack or --table): with the owner's own AWS
 *   credentials, like `rk-sync invite`: the account item and the owner claim in the stack's
 *   table, the token's SSM parameter. This is how an owner removes an account somebody
 *   linked without their consent; the next invite the owner mints is a first link again.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unlinkAccount } from '../functions/core/sync/link.ts';
import { CliError, EXIT } from './errors.ts';
import { openLocal } from './local.ts';

export interface UnlinkOptions {
  outputs?: string | undefined;
  stack?: string | undefined;
  table?: string | undefined;
  tokenPrefix?: string | undefined;
  region?: string | undefined;
}

export interface UnlinkResult {
  userId: string;
  where: 'local' | 'aws';
  /** False when no such account was linked (the token and owner claim are removed anyway). */
  wasLinked: boolean;
}

export const wantsStack = (o: UnlinkOptions): boolean =>
  o.outputs !== undefined || o.stack !== undefined || o.table !== undefined;

/** TableName and TokenParameterPrefix from flags, or from `cdk deploy --outputs-file` JSON. */
export function stackTarget(o: UnlinkOptions): { table: string; tokenPrefix: string } {
  let table = o.table;
  let tokenPrefix = o.tokenPrefix;
  const file = o.outputs ?? (existsSync('cdk-outputs.json') ? 'cdk-outputs.json' : undefined);
  if ((!table || !tokenPrefix) && file) {
    let all: Record<string, Record<string, string>>;
    try {
      all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
    } catch {
      throw new CliError(`cannot read stack outputs from ${file}`, EXIT.usage);
    }
    const names = Object.keys(all);
    const name = o.stack ?? (names.length === 1 ? names[0] : undefined);
    if (!name || !all[name]) {
      throw new CliError(
        `choose a stack with --stack (outputs file has: ${names.join(', ') || 'none'})`,
        EXIT.usage,
      );
    }
    table ??= all[name].TableName;
    tokenPrefix ??= all[name].TokenParameterPrefix;
  }
  if (!table || !tokenPrefix) {
    throw new CliError(
      'need --table and --token-prefix (or the cdk-outputs.json that `npm run deploy` writes)',
      EXIT.usage,
    );
  }
  if (!/^\/[A-Za-z0-9_./-]*\/$/.test(tokenPrefix)) {
    throw new CliError('--token-prefix must be an SSM path starting and ending with /', EXIT.usage);
  }
  return { table, tokenPrefix };
}

function checkUserId(userId: string): string {
  if (!/^[0-9]{1,20}$/.test(userId)) throw new CliError('the user id must be numeric', EXIT.usage);
  return userId;
}

export async function unlinkStack(
  userId: string,
  o: UnlinkOptions,
  clients?: { ddb: DynamoDBDocumentClient; ssm: SSMClient },
): Promise<UnlinkResult> {
  checkUserId(userId);
  const { table, tokenPrefix } = stackTarget(o);
  // Loaded here, not at start-up: every other command starts without the SSM client.
  const [{ DynamoDBClient }, { SSMClient }, { DynamoDBDocumentClient }, dynamo, { SsmTokenStore }] =
    await Promise.all([
      import('@aws-sdk/client-dynamodb'),
      import('@aws-sdk/client-ssm'),
      import('@aws-sdk/lib-dynamodb'),
      import('../functions/adapters/aws/dynamo.ts'),
      import('../functions/adapters/aws/sqs-ssm.ts'),
    ]);
  const region = o.region ? { region: o.region } : {};
  const ddb =
    clients?.ddb ??
    DynamoDBDocumentClient.from(new DynamoDBClient(region), {
      marshallOptions: { removeUndefinedValues: true },
    });
  const ssm = clients?.ssm ?? new SSMClient(region);
  try {
    const r = await unlinkAccount(
      {
        accounts: new dynamo.DynamoAccountStore(ddb, table),
        tokens: new SsmTokenStore(ssm, tokenPrefix),
        states: new dynamo.DynamoAuthStateStore(ddb, table),
      },
      userId,
    );
    return { userId, where: 'aws', ...r };
  } catch (e) {
    throw new CliError(
      `could not unlink ${userId} in ${table}: ${(e as Error).name}: ${(e as Error).message}`,
      EXIT.failed,
    );
  }
}

/** Local mode: the only linked account when no id is given. */
export async function unlinkLocal(
  userId: string | undefined,
  dataDir: string,
): Promise<UnlinkResult> {
  const stores = openLocal(dataDir, { mustExist: true });
  try {
    let id = userId;
    if (id === undefined) {
      const all = await stores.accounts.list();
      if (all.length !== 1) {
        throw new CliError(
          all.length === 0
            ? 'no account is linked in this data directory'
            : `name the account to unlink (linked: ${all.map((a) => a.userId).join(', ')})`,
          EXIT.usage,
        );
      }
      id = all[0]!.userId;
    }
    checkUserId(id);
    const r = await unlinkAccount({ accounts: stores.accounts, tokens: stores.tokens }, id);
    return { userId: id, where: 'local', ...r };
  } finally {
    stores.close();
  }
}

export function describeUnlink(r: UnlinkResult): string {
  const where = r.where === 'aws' ? 'the stack' : 'this data directory';
  return r.wasLinked
    ? `Unlinked Runkeeper user ${r.userId} from ${where}: its token is deleted and it is no longer synced; the archive keeps what was stored.`
    : `No account ${r.userId} was linked in ${where}; any token or owner claim it left is removed.`;
}
