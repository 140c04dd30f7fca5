/**
 * `rk-sync restore`: the AWS deployment's restore drill. Brings back a deleted or overwritten
 * archive object from the bucket's S3 versions, choosing the revision the ledger records
 * (functions/core/restore/plan.ts). Works with the user's own AWS credentials on the stack's
 * bucket and table (from --bucket/--table, cdk-outputs.json or CloudFormation).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAccountStore, DynamoLedger } from '../functions/adapters/aws/dynamo.ts';
import { S3ObjectStore } from '../functions/adapters/aws/s3.ts';
import { S3VersionedObjects } from '../functions/adapters/aws/s3-versions.ts';
import { type FeedName, rawKey } from '../functions/core/keys.ts';
import {
  type RestoreResult,
  restoreActivity,
  restoreAll,
  restoreObject,
} from '../functions/core/restore/plan.ts';
import { CliError, EXIT } from './errors.ts';
import { requireOutput, type StackTarget, stackOutputs } from './stack-outputs.ts';

export interface RestoreOptions extends StackTarget {
  bucket?: string | undefined;
  table?: string | undefined;
  userId?: string | undefined;
  activity?: string | undefined;
  feed: FeedName;
  key?: string | undefined;
  versionId?: string | undefined;
  all?: boolean | undefined;
  dryRun?: boolean | undefined;
}

export interface RestoreReport {
  bucket: string;
  checked?: number | undefined;
  results: RestoreResult[];
}

async function onlyUser(table: string, ddb: DynamoDBDocumentClient): Promise<string> {
  const accounts = await new DynamoAccountStore(ddb, table).list();
  if (accounts.length !== 1) {
    throw new CliError(
      `pass --user-id (the ledger has ${accounts.length} accounts: ${accounts.map((a) => a.userId).join(', ') || 'none'})`,
      EXIT.usage,
    );
  }
  return accounts[0]!.userId;
}

export async function runRestore(o: RestoreOptions): Promise<RestoreReport> {
  const modes = [o.activity !== undefined, o.key !== undefined, o.all === true].filter(Boolean);
  if (modes.length !== 1) {
    throw new CliError('choose exactly one of --activity <id>, --key <key>, --all', EXIT.usage);
  }
  if (o.versionId !== undefined && o.key === undefined) {
    throw new CliError('--version-id goes with --key', EXIT.usage);
  }
  let bucket = o.bucket;
  let table = o.table;
  if (!bucket || !table) {
    const out = await stackOutputs(o);
    bucket ??= requireOutput(out, 'BucketName');
    table ??= requireOutput(out, 'TableName');
  }
  const cfg = o.region ? { region: o.region } : {};
  // A custom endpoint (AWS_ENDPOINT_URL: an S3-compatible or local emulator) needs path-style
  // addressing; real S3 keeps virtual-hosted style.
  const s3 = new S3Client({ ...cfg, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) });
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient(cfg), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const store = new S3VersionedObjects(s3, bucket);
  const opts = { dryRun: o.dryRun === true };
  if (o.key !== undefined) {
    return {
      bucket,
      results: [await restoreObject(store, o.key, { versionId: o.versionId }, opts)],
    };
  }
  const userId = o.userId ?? (await onlyUser(table, ddb));
  const ledger = new DynamoLedger(ddb, table);
  if (o.activity !== undefined) {
    // Validates the id and feed the same way the archive keys do (no path tricks).
    rawKey(userId, { feed: o.feed, id: o.activity });
    const r = await restoreActivity(store, ledger, { userId, feed: o.feed, id: o.activity }, opts);
    return { bucket, results: [r] };
  }
  const current = new S3ObjectStore(s3, bucket);
  const r = await restoreAll(store, ledger, userId, (k) => current.hash(k), opts);
  return { bucket, checked: r.checked, results: r.results };
}

export function describeRestore(r: RestoreReport, dryRun: boolean): string {
  const out: string[] = [];
  if (r.checked !== undefined) {
    out.push(
      `Checked ${r.checked} stored activities in ${r.bucket}: ${r.results.length} differ from the ledger.`,
    );
  }
  const verb = {
    intact: 'intact',
    undelete: 'undeleted',
    copy: 'restored',
    missing: 'NOT restored',
  };
  for (const x of r.results) {
    const what =
      dryRun && x.action !== 'intact' && x.action !== 'missing'
        ? `would be ${verb[x.action]}`
        : verb[x.action];
    out.push(
      `${x.key}: ${what}${x.fromVersion ? ` (version ${x.fromVersion})` : ''}${x.reason ? `: ${x.reason}` : ''}`,
    );
  }
  return out.join('\n');
}
