/**
 * `rk-sync verify`: the archive against its manifest (sha256 and size of every listed file,
 * missing and unexpected files), in the data directory or in the bucket (`--bucket`, read
 * through the S3 adapter with your AWS credentials; `AWS_ENDPOINT_URL` is honoured).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../functions/adapters/aws/s3.ts';
import { FsObjectStore } from '../functions/adapters/local/index.ts';
import { type VerifyResult, verifyArchive, verifyOk } from '../functions/core/export/manifest.ts';
import type { ObjectStore } from '../functions/core/ports.ts';
import { archiveUsers } from './archive.ts';
import { CliError, EXIT } from './errors.ts';
import { printable } from './text.ts';

export interface VerifyOptions {
  dataDir: string;
  bucket?: string | undefined;
  region?: string | undefined;
  userId?: string | undefined;
}

async function bucketUsers(store: ObjectStore): Promise<string[]> {
  const users = new Set<string>();
  for await (const key of store.list('index/')) {
    const m = /^index\/([0-9]{1,20})\/manifest\.json$/.exec(key);
    if (m) users.add(m[1]!);
  }
  for await (const key of store.list('raw/')) {
    const m = /^raw\/([0-9]{1,20})\//.exec(key);
    if (m) users.add(m[1]!);
  }
  return [...users].sort();
}

export async function runVerify(
  o: VerifyOptions,
): Promise<{ where: string; users: VerifyResult[]; ok: boolean }> {
  if (o.userId !== undefined && !/^[0-9]{1,20}$/.test(o.userId)) {
    throw new CliError('--user-id must be a number', EXIT.usage);
  }
  const store: ObjectStore = o.bucket
    ? new S3ObjectStore(
        new S3Client({
          ...(o.region ? { region: o.region } : {}),
          forcePathStyle: process.env.AWS_ENDPOINT_URL !== undefined,
        }),
        o.bucket,
      )
    : new FsObjectStore(o.dataDir);
  const where = o.bucket ? `s3://${o.bucket}` : o.dataDir;
  const ids = o.userId ? [o.userId] : o.bucket ? await bucketUsers(store) : archiveUsers(o.dataDir);
  if (ids.length === 0) throw new CliError(`no archive in ${where}`, EXIT.usage);
  const users: VerifyResult[] = [];
  for (const id of ids) users.push(await verifyArchive(store, id));
  return { where, users, ok: users.every(verifyOk) };
}

export function describeVerify(r: { where: string; users: VerifyResult[] }): string {
  const out: string[] = [];
  for (const u of r.users) {
    const bad = u.missing.length + u.changed.length + u.unexpected.length;
    if (u.manifest !== 'ok') {
      out.push(
        `rk-sync: user ${u.userId} in ${r.where}: manifest ${u.manifest} (run "rk-sync export" to write it)`,
      );
    } else {
      out.push(
        `rk-sync: user ${u.userId} in ${r.where}: ${bad === 0 ? 'OK' : 'MISMATCH'}: ${u.ok} of ${u.listed} listed files match, ${u.changed.length} changed, ${u.missing.length} missing, ${u.unexpected.length} not in the manifest`,
      );
    }
    for (const c of u.changed) out.push(`  changed    ${printable(c.key)}`);
    for (const k of u.missing) out.push(`  missing    ${printable(k)}`);
    for (const k of u.unexpected) out.push(`  unexpected ${printable(k)}`);
  }
  return out.join('\n');
}
