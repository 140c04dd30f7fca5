/**
 * S3 ObjectCreated on imports/*.zip: imports Runkeeper's export ZIP into the archive layout
 * (raw/{userId}/fitnessActivities/{syntheticId}.json, the original files under
 * raw/{userId}/export/{zipId}/, derived files and the index). The ZIP is read with ranged
 * GetObject calls (conditional on the ETag seen first), so memory stays bounded whatever
 * its size. Idempotent: importing the same ZIP again rewrites nothing.
 *
 * The owner: `imports/{userId}/….zip` names it; otherwise the only linked account.
 */
import type { Readable } from 'node:stream';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { DynamoAccountStore } from '../../adapters/aws/dynamo.ts';
import { S3ObjectStore } from '../../adapters/aws/s3.ts';
import { zipFromRanges } from '../../adapters/zip.ts';
import { importExportZip } from '../../core/import/archive.ts';
import type { AccountStore, ObjectStore } from '../../core/ports.ts';
import type { EnvOf } from '../env.ts';
import { wrap } from '../middleware.ts';
import { coreLog, type Platform, safeError } from '../platform.ts';

export interface S3Event {
  Records?: {
    s3?: { bucket?: { name?: string }; object?: { key?: string; size?: number } };
  }[];
}

export interface ImportSummary {
  key: string;
  userId?: string;
  activities?: number;
  written?: number;
  errors?: number;
  skipped?: string;
}

const USER_IN_KEY = /^imports\/([0-9]{1,20})\//;

/** S3 event keys are URL-encoded with '+' for spaces. */
export function eventKey(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

async function ownerOf(key: string, accounts: AccountStore): Promise<string | undefined> {
  const named = USER_IN_KEY.exec(key)?.[1];
  const all = await accounts.list();
  if (named !== undefined) return all.some((a) => a.userId === named) ? named : undefined;
  return all.length === 1 ? all[0]!.userId : undefined;
}

export function createImporterHandler(
  env: EnvOf<'importer'>,
  p: Platform<'ddb' | 's3'>,
  ports: { accounts: AccountStore; store: ObjectStore } = {
    accounts: new DynamoAccountStore(p.clients.ddb, env.TABLE_NAME),
    store: new S3ObjectStore(p.clients.s3, env.BUCKET_NAME),
  },
) {
  const log = coreLog(p.logger);
  const s3 = p.clients.s3;
  return wrap(p, async (event: S3Event): Promise<{ imports: ImportSummary[] }> => {
    const imports: ImportSummary[] = [];
    for (const r of event.Records ?? []) {
      const key = eventKey(r.s3?.object?.key ?? '');
      if (
        !key ||
        r.s3?.bucket?.name !== env.BUCKET_NAME ||
        !key.startsWith('imports/') ||
        !key.toLowerCase().endsWith('.zip')
      ) {
        p.logger.warn('ignoring an object that is not an import ZIP in the archive bucket');
        continue;
      }
      const userId = await ownerOf(key, ports.accounts);
      if (!userId) {
        p.logger.error('import skipped: name the account as imports/{userId}/… or link one', {
          key,
        });
        imports.push({ key, skipped: 'no matching linked account' });
        continue;
      }
      const head = await s3.send(new HeadObjectCommand({ Bucket: env.BUCKET_NAME, Key: key }));
      const size = head.ContentLength ?? 0;
      const src = zipFromRanges(size, async (start, end) => {
        const o = await s3.send(
          new GetObjectCommand({
            Bucket: env.BUCKET_NAME,
            Key: key,
            Range: `bytes=${start}-${end - 1}`,
            ...(head.ETag ? { IfMatch: head.ETag } : {}),
          }),
        );
        return o.Body as Readable;
      });
      try {
        const rep = await importExportZip(ports.store, userId, src, { log });
        p.metrics.addMetric('ImportedActivities', MetricUnit.Count, rep.activities);
        p.logger.info('export ZIP imported', {
          key,
          userId,
          activities: rep.activities,
          written: rep.written,
          unchanged: rep.unchanged,
          originals: rep.originals,
          skipped: rep.skipped,
          // Per row: new, merged with an API activity, updated, unchanged, duplicate, skipped.
          rows: rep.counts,
          errors: rep.errors.length,
          notices: rep.notices.length,
        });
        imports.push({
          key,
          userId,
          activities: rep.activities,
          written: rep.written,
          errors: rep.errors.length,
        });
      } catch (e) {
        // Not a ZIP at all, or S3 failed: S3's async invoke retries; importing is idempotent.
        p.logger.error('export ZIP import failed', { key, error: safeError(e) });
        throw e;
      }
    }
    return { imports };
  });
}
