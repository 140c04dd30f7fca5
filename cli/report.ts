/**
 * `rk-sync report`: the one-file HTML report of the archive (functions/core/report/).
 *   rk-sync report [--user-id ID] [--tiles URL] [--open]   build report/{userId}/index.html locally
 *   rk-sync report --url [--outputs F | --bucket B] [--user-id ID] [--expires S]
 *                                                          a presigned link to the one in the bucket
 * `sync`, `import` and the demo refresh the local report through `refreshLocalReport`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { ReportWorkers } from '../functions/adapters/local/report-workers.ts';
import { describeError } from '../functions/core/errors.ts';
import type { Log, ObjectStore } from '../functions/core/ports.ts';
import { buildReport, type ReportResult, reportKey } from '../functions/core/report/build.ts';
import { CliError, EXIT } from './errors.ts';
import { resolveOutputs } from './invite.ts';
import { type LocalStores, openLocal } from './local.ts';

/** Build (or rebuild) a user's local report; a failure is logged, never fatal to the caller. */
export async function refreshLocalReport(
  store: ObjectStore,
  userId: string,
  log: Log,
  tiles?: string,
): Promise<ReportResult | undefined> {
  const workers = new ReportWorkers();
  try {
    return await buildReport(store, userId, {
      now: new Date().toISOString(),
      tiles,
      log,
      prepare: workers.prepare,
    });
  } catch (e) {
    log.warn('report not rebuilt; run "rk-sync report" to retry', { error: describeError(e) });
    return undefined;
  } finally {
    await workers.close();
  }
}

/** The demo's report: built if the data directory has none yet (e.g. from an older version). */
export async function ensureLocalReport(stores: LocalStores, userId: string, log: Log) {
  if (!existsSync(join(stores.dataDir, reportKey(userId))))
    await refreshLocalReport(stores.store, userId, log);
}

/** Linked accounts, and users whose archive came from `import` alone. */
export async function archiveUsers(stores: LocalStores): Promise<string[]> {
  const rawDir = resolve(stores.dataDir, 'raw');
  return [
    ...new Set([
      ...(await stores.accounts.list()).map((a) => a.userId),
      ...(existsSync(rawDir) ? readdirSync(rawDir).filter((d) => /^[0-9]{1,20}$/.test(d)) : []),
    ]),
  ];
}

export interface PresignOptions {
  outputs?: string;
  stack?: string;
  bucket?: string;
  region?: string;
  userId?: string;
  expires: number;
}

/** A presigned GET link to report/{userId}/index.html in the stack's (private) bucket. */
export async function presignReport(
  o: PresignOptions,
  client?: S3Client,
): Promise<{ url: string; userId: string; expiresAt: string }> {
  if (!Number.isInteger(o.expires) || o.expires < 60 || o.expires > 604_800) {
    throw new CliError('--expires must be between 60 and 604800 seconds', EXIT.usage);
  }
  const bucket = o.bucket ?? (await resolveOutputs(o, ['BucketName'])).BucketName;
  if (!bucket) throw new CliError('need --bucket (or the stack outputs file)', EXIT.usage);
  // Loaded only for --url: every other command starts faster without the S3 client.
  const { GetObjectCommand, ListObjectsV2Command, S3Client } = await import('@aws-sdk/client-s3');
  const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
  const s3 = client ?? new S3Client(o.region ? { region: o.region } : {});
  let userId = o.userId;
  if (userId === undefined) {
    const r = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: 'report/', Delimiter: '/' }),
    );
    const users = (r.CommonPrefixes ?? []).map((p) => p.Prefix?.split('/')[1] ?? '');
    if (users.length !== 1) {
      throw new CliError(
        users.length === 0
          ? `no report in ${bucket} yet (the scheduler builds it within the hour after a sync)`
          : `several users have reports: choose one with --user-id (${users.join(', ')})`,
        EXIT.usage,
      );
    }
    userId = users[0]!;
  }
  const url = await getSignedUrl(
    s3,
    new GetObjectCommand({
      Bucket: bucket,
      Key: reportKey(userId),
      ResponseContentType: 'text/html; charset=utf-8',
    }),
    { expiresIn: o.expires },
  );
  return { url, userId, expiresAt: new Date(Date.now() + o.expires * 1000).toISOString() };
}

export interface ReportCliContext {
  settingsOf(cmd: Command): { g: { json: boolean; quiet: boolean }; dataDir: string };
  logFor(g: unknown): Log;
  out(line: string): void;
  openBrowser(url: string): boolean;
}

export function registerReportCommand(program: Command, ctx: ReportCliContext): void {
  program
    .command('report')
    .description(
      'write report/{userId}/index.html: one self-contained page (overview, activity table, routes, charts, splits, heatmap) that works offline and makes no network request',
    )
    .option('--user-id <id>', 'only this user (default: every user in the data directory)')
    .option('--open', 'open the report in your browser')
    .option(
      '--tiles <url>',
      'background map tiles when online, e.g. https://tile.example.org/{z}/{x}/{y}.png (off by default: the page then loads nothing)',
    )
    .option('--url', 'AWS: print a presigned link to the report in the stack bucket')
    .option('--outputs <file>', 'with --url: stack outputs (default ./cdk-outputs.json)')
    .option('--stack <name>', 'with --url: which stack in the outputs file')
    .option('--bucket <name>', 'with --url: the BucketName output (instead of --outputs)')
    .option('--region <region>', 'with --url: AWS region (default: your AWS configuration)')
    .option('--expires <seconds>', 'with --url: link lifetime (60 … 604800)', '3600')
    .action(async (opts, cmd: Command) => {
      const { g, dataDir } = ctx.settingsOf(cmd);
      if (opts.userId !== undefined && !/^[0-9]{1,20}$/.test(opts.userId)) {
        throw new CliError('--user-id must be a number', EXIT.usage);
      }
      if (opts.tiles !== undefined && !/^https?:\/\/[^\s]+\{z\}.*\{x\}.*\{y\}/.test(opts.tiles)) {
        throw new CliError('--tiles must be an http(s) URL with {z}, {x} and {y}', EXIT.usage);
      }
      if (opts.url) {
        const r = await presignReport({ ...opts, expires: Number(opts.expires) });
        if (g.json) ctx.out(JSON.stringify(r));
        else ctx.out(r.url);
        return;
      }
      let stores: LocalStores;
      try {
        stores = openLocal(dataDir, { mustExist: true });
      } catch (e) {
        if (e instanceof CliError && /^no rk-sync data/.test(e.message)) {
          throw new CliError(`${e.message}; nothing to report`, EXIT.usage);
        }
        throw e;
      }
      try {
        const users = opts.userId ? [opts.userId] : await archiveUsers(stores);
        if (users.length === 0) throw new CliError('no archive in this data directory', EXIT.usage);
        const log = ctx.logFor(g);
        const reports = [];
        const workers = new ReportWorkers();
        try {
          for (const userId of users) {
            const r = await buildReport(stores.store, userId, {
              now: new Date().toISOString(),
              tiles: opts.tiles,
              log,
              prepare: workers.prepare,
            });
            reports.push({ userId, path: join(dataDir, r.key), ...r });
          }
        } finally {
          await workers.close();
        }
        if (g.json) ctx.out(JSON.stringify({ dataDir, reports }));
        else
          for (const r of reports)
            ctx.out(
              `rk-sync: report of user ${r.userId}: ${r.activities} activities, ${(r.bytes / 1e6).toFixed(1)} MB: ${r.path}`,
            );
        if (opts.open) {
          for (const r of reports)
            if (!ctx.openBrowser(pathToFileURL(r.path).href) && !g.json)
              ctx.out(`rk-sync: could not open a browser; open ${r.path}`);
        }
      } finally {
        stores.close();
      }
    });
}
