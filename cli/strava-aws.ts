/**
 * `rk-sync link strava --aws`: link the Strava athlete of a deployed stack's mirror
 * (`-c strava=true`). The OAuth flow runs on this machine (loopback redirect, like the local
 * link); the tokens are written with the owner's own AWS credentials to the stack's SSM
 * SecureString `{StravaTokenParameterPrefix}{userId}`, so only the owner of the AWS account
 * can link, with no public route to attack. The user is the stack's only linked account
 * (or --user-id).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAccountStore } from '../functions/adapters/aws/dynamo.ts';
import { SsmStravaTokens } from '../functions/adapters/aws/strava.ts';
import type { StravaTokens } from '../functions/core/strava/oauth.ts';
import { CliError, EXIT } from './errors.ts';
import { resolveOutputs } from './invite.ts';

export interface StackTarget {
  table: string;
  tokenPrefix: string;
}

export async function stravaStackTarget(o: {
  outputs?: string;
  stack?: string;
}): Promise<StackTarget> {
  const out = await resolveOutputs(o, ['TableName', 'StravaTokenParameterPrefix']);
  if (Object.values(out).every((v) => v === undefined)) {
    throw new CliError(
      '--aws needs the cdk-outputs.json that `npm run deploy` writes (--outputs)',
      EXIT.usage,
    );
  }
  if (!out.StravaTokenParameterPrefix || !out.TableName) {
    throw new CliError(
      'this stack has no Strava mirror: deploy with -c strava=true -c stravaClientId=…',
      EXIT.usage,
    );
  }
  return { table: out.TableName, tokenPrefix: out.StravaTokenParameterPrefix };
}

/** The stack's user to mirror and a sink that stores the tokens in its SSM parameter. */
export async function stravaStackSink(
  target: StackTarget,
  userId: string | undefined,
): Promise<{ userId: string; sink: (t: StravaTokens) => Promise<void> }> {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  let uid = userId;
  if (uid === undefined) {
    const active = (await new DynamoAccountStore(db, target.table).list()).filter(
      (a) => a.status === 'ACTIVE',
    );
    if (active.length !== 1) {
      throw new CliError(
        `the stack has ${active.length} linked accounts: choose one with --user-id`,
        EXIT.usage,
      );
    }
    uid = active[0]!.userId;
  }
  const tokens = new SsmStravaTokens(new SSMClient({}), target.tokenPrefix, uid);
  return { userId: uid, sink: (t) => tokens.put(t) };
}
