/**
 * Imports Runkeeper's export ZIP into the archive layout (raw/{userId}/fitnessActivities/
 * {syntheticId}.json, the original files under raw/{userId}/export/{zipId}/, derived files and
 * the index) in bounded slices (functions/core/import/slices.ts, issue #14 §1):
 *   S3 ObjectCreated on imports/*.zip  reads the central directory and the CSV, records the job
 *                                      and sends one import-queue message per slice;
 *   SQS import-queue message           imports one slice (continued in a new message when the
 *                                      invocation's deadline is near); the last one indexes.
 * The ZIP is read with ranged GetObject calls conditional on the ETag the upload event
 * named, so memory stays bounded whatever its size. Idempotent: re-delivery rewrites nothing.
 *
 * The owner: `imports/{userId}/….zip` names it; otherwise the only linked account.
 */
import type { Readable } from 'node:stream';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { DynamoAccountStore } from '../../adapters/aws/dynamo.ts';
import { DynamoImportJobs, SqsSliceQueue } from '../../adapters/aws/import-jobs.ts';
import { S3ObjectStore } from '../../adapters/aws/s3.ts';
import { zipFromRanges } from '../../adapters/zip.ts';
import {
  fanOutImport,
  type ImportJobs,
  runSlice,
  type SliceDeps,
  type SliceMessage,
  type SliceQueue,
} from '../../core/import/slices.ts';
import type { AccountStore, ObjectStore } from '../../core/ports.ts';
import type { EnvOf } from '../env.ts';
import type { LambdaContext } from '../http.ts';
import { wrap } from '../middleware.ts';
import { coreLog, type Platform, safeError } from '../platform.ts';

export interface S3Event {
  Records?: {
    s3?: { bucket?: { name?: string }; object?: { key?: string; size?: number } };
  }[];
}

export interface SqsImportEvent {
  Records?: { eventSource?: string; messageId?: string; body?: string }[];
}

export interface ImportSummary {
  key: string;
  userId?: string;
  /** Slices the import was cut into, and how many were sent now (0: already imported). */
  slices?: number;
  sent?: number;
  errors?: number;
  skipped?: string;
}

export interface SliceSummary {
  n: number;
  activities: number;
  written: number;
  errors: number;
  continuedAt?: number;
  indexed: boolean;
}

/** Time kept in reserve when a slice checks its deadline: one entry's work plus the send. */
export const SLICE_RESERVE_MS = 120_000;

const SliceMessageSchema = z.object({
  v: z.literal(1),
  key: z.string().check(z.startsWith('imports/')),
  etag: z.string().check(z.minLength(1)),
  userId: z.string().check(z.regex(/^[0-9]{1,20}$/)),
  n: z.int().check(z.minimum(0)),
  kind: z.enum(['entries', 'rows']),
  from: z.int().check(z.minimum(0)),
  to: z.int().check(z.minimum(0)),
});

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
  p: Platform<'ddb' | 's3' | 'sqs'>,
  ports: { accounts: AccountStore; store: ObjectStore; jobs: ImportJobs; queue: SliceQueue } = {
    accounts: new DynamoAccountStore(p.clients.ddb, env.TABLE_NAME),
    store: new S3ObjectStore(p.clients.s3, env.BUCKET_NAME),
    jobs: new DynamoImportJobs(p.clients.ddb, env.TABLE_NAME, () => p.clock.now()),
    queue: new SqsSliceQueue(p.clients.sqs, env.IMPORT_QUEUE_URL),
  },
) {
  const log = coreLog(p.logger);
  const s3 = p.clients.s3;
  const deps: SliceDeps = { store: ports.store, jobs: ports.jobs, queue: ports.queue, log };
  /** The ZIP as ranged reads, each conditional on the ETag (a replaced object fails them). */
  const zipAt = async (key: string, etag: string | undefined) => {
    const head = await s3.send(
      new HeadObjectCommand({
        Bucket: env.BUCKET_NAME,
        Key: key,
        ...(etag ? { IfMatch: etag } : {}),
      }),
    );
    const tag = head.ETag ?? '';
    const src = zipFromRanges(head.ContentLength ?? 0, async (start, end) => {
      const o = await s3.send(
        new GetObjectCommand({
          Bucket: env.BUCKET_NAME,
          Key: key,
          Range: `bytes=${start}-${end - 1}`,
          ...(tag ? { IfMatch: tag } : {}),
        }),
      );
      return o.Body as Readable;
    });
    return { src, etag: tag };
  };

  const upload = async (
    r: NonNullable<S3Event['Records']>[number],
  ): Promise<ImportSummary | undefined> => {
    const key = eventKey(r.s3?.object?.key ?? '');
    if (
      !key ||
      r.s3?.bucket?.name !== env.BUCKET_NAME ||
      !key.startsWith('imports/') ||
      !key.toLowerCase().endsWith('.zip')
    ) {
      p.logger.warn('ignoring an object that is not an import ZIP in the archive bucket');
      return undefined;
    }
    const userId = await ownerOf(key, ports.accounts);
    if (!userId) {
      p.logger.error('import skipped: name the account as imports/{userId}/… or link one', {
        key,
      });
      return { key, skipped: 'no matching linked account' };
    }
    try {
      const { src, etag } = await zipAt(key, undefined);
      const rep = await fanOutImport(deps, src, { key, etag, userId });
      p.logger.info('export ZIP import planned', {
        key,
        userId,
        slices: rep.slices,
        sent: rep.sent,
        finished: rep.finished,
        errors: rep.tally.errors.length,
      });
      return { key, userId, slices: rep.slices, sent: rep.sent, errors: rep.tally.errors.length };
    } catch (e) {
      // Not a ZIP at all, or S3 failed: S3's async invoke retries; planning is idempotent.
      p.logger.error('export ZIP import failed', { key, error: safeError(e) });
      throw e;
    }
  };

  const slice = async (body: string, context: LambdaContext): Promise<SliceSummary> => {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    const m = SliceMessageSchema.safeParse(json);
    if (!m.success) throw new Error('poison message: body is not an import slice');
    const msg: SliceMessage = m.data;
    let src: Awaited<ReturnType<typeof zipAt>>['src'];
    try {
      ({ src } = await zipAt(msg.key, msg.etag));
    } catch (e) {
      // The upload was replaced or deleted: its own event plans a new job; this one is moot.
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 412 && status !== 404) throw e;
      p.logger.warn('import slice dropped: the uploaded ZIP changed', { key: msg.key, n: msg.n });
      return { n: msg.n, activities: 0, written: 0, errors: 0, indexed: false };
    }
    const timeLeft = () => context.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
    const r = await runSlice(deps, src, msg, { timeLeft, reserveMs: SLICE_RESERVE_MS });
    p.metrics.addMetric('ImportedActivities', MetricUnit.Count, r.tally.activities);
    const summary: SliceSummary = {
      n: r.n,
      activities: r.tally.activities,
      written: r.tally.written,
      errors: r.tally.errors.length,
      indexed: r.indexed,
      ...(r.continuedAt === undefined ? {} : { continuedAt: r.continuedAt }),
    };
    p.logger.info('import slice done', { key: msg.key, userId: msg.userId, ...summary });
    return summary;
  };

  return wrap(
    p,
    async (
      event: S3Event | SqsImportEvent,
      context: LambdaContext,
    ): Promise<{ imports: ImportSummary[]; slices: SliceSummary[] }> => {
      const imports: ImportSummary[] = [];
      const slices: SliceSummary[] = [];
      for (const r of event.Records ?? []) {
        if ('eventSource' in r && r.eventSource === 'aws:sqs') {
          // Batch size 1: a failure throws, and the message comes back (DLQ after 5).
          slices.push(await slice(r.body ?? '', context));
          continue;
        }
        const done = await upload(r as NonNullable<S3Event['Records']>[number]);
        if (done) imports.push(done);
      }
      return { imports, slices };
    },
  );
}
