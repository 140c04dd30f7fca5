/**
 * `rk-sync link strava` and `rk-sync push strava`: move the archive to Strava, paced by
 * Strava's per-application windows, resumable, duplicate-safe (functions/core/strava/).
 * `runPush` is shared by the command and `rk-sync demo --push strava`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { FileStravaTokens, SqlitePushLedger } from '../functions/adapters/local/push.ts';
import { SqliteBudgetStore } from '../functions/adapters/local/sqlite.ts';
import type { Clock } from '../functions/core/clock.ts';
import type { Log } from '../functions/core/ports.ts';
import type { FilePreference } from '../functions/core/strava/activity.ts';
import { StravaClient } from '../functions/core/strava/client.ts';
import { countStates, isFinal } from '../functions/core/strava/ledger.ts';
import {
  MultiWindowBudget,
  pushEtaMs,
  STRAVA_DEFAULT_LIMITS,
  type StravaLimits,
} from '../functions/core/strava/limits.ts';
import { type PushFilter, planPush } from '../functions/core/strava/plan.ts';
import { type PushSummary, pushToStrava } from '../functions/core/strava/push.ts';
import { promptHidden } from './auth.ts';
import { CliError, EXIT } from './errors.ts';
import { type LocalStores, openLocal } from './local.ts';
import { acquireSyncLock } from './lock.ts';
import { formatDuration } from './progress.ts';
import { stravaStackSink, stravaStackTarget } from './strava-aws.ts';
import { linkStravaLocal, STRAVA_DEFAULTS } from './strava-link.ts';

export interface PushRunOptions {
  stores: LocalStores;
  userId: string;
  clock: Clock;
  log: Log;
  signal?: AbortSignal | undefined;
  filter: PushFilter;
  limit?: number | undefined;
  dryRun: boolean;
  mute: boolean;
  prefer: FilePreference;
  limits: StravaLimits;
  /** Overrides of what `link strava` stored (demo, tests). */
  app?:
    | { clientId: string; oauthBaseUrl: string; apiBaseUrl: string; clientSecret: string }
    | undefined;
  onProgress?: ((line: string) => void) | undefined;
  firstPollMs?: number | undefined;
}

export interface DryRun {
  dryRun: true;
  userId: string;
  planned: number;
  alreadyDone: number;
  wouldPush: number;
  files: number;
  manual: number;
  byType: Record<string, number>;
  photos: number;
  merged: number;
  filteredOut: number;
  etaMs: number;
  etaDays: number;
}

const days = (ms: number) => Math.round((ms / 86_400_000) * 10) / 10;

export async function runPush(
  o: PushRunOptions,
): Promise<(PushSummary & { userId: string; etaDays: number }) | DryRun> {
  const deleted = new Set((await o.stores.ledger.list(o.userId, 'DELETED')).map((it) => it.id));
  const plan = await planPush(o.stores.store, o.userId, deleted, o.filter);
  const ledger = new SqlitePushLedger(o.stores.db);
  const db = o.stores.db;
  const clientId = o.app?.clientId ?? db.getMeta('strava_client_id');
  const budget = new MultiWindowBudget(new SqliteBudgetStore(db), clientId ?? 'unlinked', o.limits);
  if (o.dryRun) {
    const recs = new Map((await ledger.list('strava', o.userId)).map((r) => [r.id, r]));
    const todo = plan.candidates.filter((c) => !isFinal(recs.get(c.id), o.mute));
    const work = o.limit === undefined ? todo : todo.slice(0, o.limit);
    const byType: Record<string, number> = {};
    for (const c of work) byType[c.row.type] = (byType[c.row.type] ?? 0) + 1;
    const etaMs = pushEtaMs(work.length, { upload: 1, read: (o.mute ? 1 : 0) + 1 }, budget);
    return {
      dryRun: true,
      userId: o.userId,
      planned: plan.candidates.length,
      alreadyDone: plan.candidates.length - todo.length,
      wouldPush: work.length,
      files: work.filter((c) => c.kind === 'file').length,
      manual: work.filter((c) => c.kind === 'manual').length,
      byType,
      photos: work.reduce((n, c) => n + c.photos, 0),
      merged: plan.merged,
      filteredOut: plan.filteredOut,
      etaMs,
      etaDays: days(etaMs),
    };
  }
  if (!clientId)
    throw new CliError('Strava is not linked: run rk-sync link strava first', EXIT.unauthorised);
  const tokens = new FileStravaTokens(o.stores.tokens, o.userId);
  if (!(await tokens.get())) {
    throw new CliError(
      `Strava is not linked for user ${o.userId}: run rk-sync link strava`,
      EXIT.unauthorised,
    );
  }
  const secret = o.app?.clientSecret ?? (await o.stores.tokens.get('strava-client-secret'));
  if (!secret)
    throw new CliError(
      'the Strava client secret is missing: run rk-sync link strava again',
      EXIT.unauthorised,
    );
  const client = new StravaClient({
    app: {
      clientId,
      oauthBaseUrl:
        o.app?.oauthBaseUrl ?? db.getMeta('strava_oauth_base_url') ?? STRAVA_DEFAULTS.oauthBaseUrl,
      apiBaseUrl:
        o.app?.apiBaseUrl ?? db.getMeta('strava_api_base_url') ?? STRAVA_DEFAULTS.apiBaseUrl,
    },
    clientSecret: async () => secret,
    tokens,
    budget,
    clock: o.clock,
    log: o.log,
    signal: o.signal,
    waitForBudget: true,
  });
  // Loaded only for a push: the FIT SDK's profile is ~1 MB of JavaScript.
  const { renderFit } = await import('../functions/core/export/fit.ts');
  let last = 0;
  const s = await pushToStrava(
    plan,
    {
      client,
      budget,
      ledger,
      store: o.stores.store,
      clock: o.clock,
      log: o.log,
      signal: o.signal,
      renderFit: (a) => renderFit(a),
    },
    {
      userId: o.userId,
      mute: o.mute,
      prefer: o.prefer,
      limit: o.limit,
      firstPollMs: o.firstPollMs,
      onProgress: (p) => {
        if (!o.onProgress || (p.done === last && p.done !== p.total)) return;
        if (p.done - last >= 10 || p.done === p.total) {
          last = p.done;
          o.onProgress(
            `rk-sync: Strava ${p.done}/${p.total} pushed, ${p.inFlight} processing, ETA ${formatDuration(p.etaMs)} (${days(p.etaMs)} days)`,
          );
        }
      },
    },
  );
  return { ...s, userId: o.userId, etaDays: days(s.etaMs) };
}

export function describePush(r: Awaited<ReturnType<typeof runPush>>): string {
  if ('dryRun' in r) {
    const types = Object.entries(r.byType)
      .sort((a, b) => b[1] - a[1])
      .map(([t, n]) => `${n} ${t}`)
      .join(', ');
    return [
      `rk-sync push strava --dry-run: ${r.wouldPush} activities would be pushed (${r.files} as FIT/TCX/GPX files, ${r.manual} as manual entries); ${r.alreadyDone} already on Strava`,
      `  types:  ${types || '-'}`,
      `  photos: ${r.photos} stay in the archive (the Strava API cannot upload photos)`,
      `  also:   ${r.merged} export-ZIP activities are the same as API ones (pushed once), ${r.filteredOut} filtered out`,
      `  ETA:    ${formatDuration(r.etaMs)} (${r.etaDays} days) within Strava's rate limits`,
    ].join('\n');
  }
  return [
    `rk-sync push strava ${r.stopped === 'done' ? (r.remaining === 0 ? 'complete' : 'paused') : `stopped (${r.stopped})`}: ${r.uploaded} uploaded, ${r.manual} manual entries, ${r.duplicates} already there (Strava: duplicate), ${r.skippedExisting} skipped (already on Strava from another source), ${r.failed} failed, ${r.alreadyDone} done before`,
    `  API calls: ${r.apiCalls}; remaining ${r.remaining}${r.remaining > 0 ? `, ETA ${formatDuration(r.etaMs)} (${r.etaDays} days); run it again to continue` : ''}`,
    ...r.notes.slice(0, 20).map((n) => `  note: ${n}`),
  ].join('\n');
}

function pairOption(v: string): [number, number] {
  const m = /^(\d{1,7}),(\d{1,7})$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected "<15-minute>,<daily>", e.g. 200,2000');
  return [Number(m[1]), Number(m[2])];
}

function dateOption(v: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(v)))
    throw new InvalidArgumentError('expected YYYY-MM-DD');
  return v;
}

function destination(v: string): 'strava' {
  if (v !== 'strava') throw new InvalidArgumentError('the only destination is "strava"');
  return v;
}

/** The archive user to push: --user-id, the only linked account, or the only user under raw/. */
async function archiveUser(stores: LocalStores, explicit?: string): Promise<string> {
  if (explicit !== undefined) {
    if (!/^[0-9]{1,20}$/.test(explicit))
      throw new CliError('--user-id must be a number', EXIT.usage);
    return explicit;
  }
  const rawDir = resolve(stores.dataDir, 'raw');
  const ids = new Set([
    ...(await stores.accounts.list()).map((a) => a.userId),
    ...(existsSync(rawDir) ? readdirSync(rawDir).filter((d) => /^[0-9]{1,20}$/.test(d)) : []),
  ]);
  if (ids.size > 1)
    throw new CliError(
      'several users in this data directory: choose one with --user-id',
      EXIT.usage,
    );
  const [only] = ids;
  if (!only) throw new CliError(`nothing to push: no archive in ${stores.dataDir}`, EXIT.usage);
  return only;
}

export interface CliContext {
  settingsOf(cmd: Command): { g: { json: boolean; quiet: boolean }; dataDir: string };
  logFor(g: { json: boolean; quiet: boolean; verbose?: boolean }): Log;
  out(line: string): void;
  signal: AbortSignal;
  setExitCode(code: number): void;
  openBrowser(url: string): boolean;
  clock: Clock;
}

export function registerStrava(program: Command, ctx: CliContext): void {
  program
    .command('link')
    .argument('<destination>', 'strava', destination)
    .description(
      'let rk-sync upload to your Strava account (OAuth on a loopback address; tokens stored 0600)',
    )
    .option(
      '--client-id <id>',
      'client id of your Strava API application (strava.com/settings/api)',
    )
    .option('--port <n>', `loopback port of the redirect (default ${STRAVA_DEFAULTS.port})`, (v) =>
      Number(v),
    )
    .option('--user-id <id>', 'the archive user whose activities go to this Strava account')
    .option('--no-browser', 'only print the URL')
    .option(
      '--timeout <seconds>',
      'give up waiting for the browser after this long',
      (v) => Number(v),
      300,
    )
    .option('--oauth-base-url <url>', `default ${STRAVA_DEFAULTS.oauthBaseUrl}`)
    .option('--api-base-url <url>', `default ${STRAVA_DEFAULTS.apiBaseUrl}`)
    .option(
      '--aws',
      "link the Strava mirror of a deployed stack (tokens to the stack's SSM, with your AWS credentials)",
    )
    .option(
      '--outputs <file>',
      'with --aws: stack outputs written by `npm run deploy` (default ./cdk-outputs.json)',
    )
    .option('--stack <name>', 'with --aws: which stack in the outputs file')
    .addHelpText(
      'after',
      '\nThe client secret is read from STRAVA_CLIENT_SECRET, or asked for (hidden).',
    )
    .action(async (_dest: string, opts, cmd: Command) => {
      const { g, dataDir } = ctx.settingsOf(cmd);
      if (!opts.clientId) throw new CliError('--client-id is required', EXIT.usage);
      const secret =
        process.env.STRAVA_CLIENT_SECRET ?? (await promptHidden('Strava client secret: '));
      if (!secret) throw new CliError('the client secret is empty', EXIT.usage);
      const stores = openLocal(dataDir);
      try {
        const aws = opts.aws
          ? await stravaStackSink(await stravaStackTarget(opts), opts.userId)
          : undefined;
        const userId = aws?.userId ?? (await archiveUser(stores, opts.userId));
        const r = await linkStravaLocal(stores, {
          sink: aws?.sink,
          userId,
          clientId: String(opts.clientId),
          clientSecret: secret,
          oauthBaseUrl: opts.oauthBaseUrl ?? STRAVA_DEFAULTS.oauthBaseUrl,
          apiBaseUrl: opts.apiBaseUrl ?? STRAVA_DEFAULTS.apiBaseUrl,
          port: opts.port ?? STRAVA_DEFAULTS.port,
          timeoutMs: opts.timeout * 1000,
          signal: ctx.signal,
          onUrl: (url) => {
            const opened = opts.browser !== false && ctx.openBrowser(url);
            process.stderr.write(
              `${opened ? 'Opened your browser at' : 'Open this address in your browser to let rk-sync upload to Strava'}:\n  ${url}\nWaiting for the answer on 127.0.0.1 (Ctrl-C to cancel)…\n`,
            );
          },
        });
        if (g.json) ctx.out(JSON.stringify({ ok: true, userId, athleteId: r.athleteId }));
        else
          ctx.out(
            `rk-sync: Strava athlete ${r.athleteId ?? '?'} linked to archive user ${userId}; next: rk-sync push strava --dry-run`,
          );
      } finally {
        stores.close();
      }
    });

  program
    .command('push')
    .argument('<destination>', 'strava', destination)
    .description(
      "push every archived activity to Strava once, oldest first, paced by Strava's rate limits (resumable; a second run is a no-op)",
    )
    .option(
      '--since <date>',
      'only activities on or after this local date (YYYY-MM-DD)',
      dateOption,
    )
    .option(
      '--until <date>',
      'only activities on or before this local date (YYYY-MM-DD)',
      dateOption,
    )
    .option('--type <list>', 'only these Runkeeper types, comma-separated (e.g. running,cycling)')
    .option('--limit <n>', 'push at most n activities in this run', (v) => Number(v))
    .option('--dry-run', 'show what would be pushed, with counts and an ETA; no API call')
    .option(
      '--no-mute',
      "do not hide pushed activities from followers' feeds (saves one API call each)",
    )
    .option('--format <fit|tcx|gpx>', 'preferred file format for GPS activities', 'fit')
    .option('--user-id <id>', 'the archive user (default: the only one)')
    .option(
      '--rate-limit <15min,daily>',
      "your app's overall limits (strava.com/settings/api)",
      pairOption,
    )
    .option('--read-rate-limit <15min,daily>', "your app's non-upload limits", pairOption)
    .addOption(new Option('--first-poll-ms <ms>').argParser((v) => Number(v)).hideHelp())
    .action(async (_dest: string, opts, cmd: Command) => {
      const { g, dataDir } = ctx.settingsOf(cmd);
      if (!['fit', 'tcx', 'gpx'].includes(opts.format))
        throw new CliError('--format must be fit, tcx or gpx', EXIT.usage);
      if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit > 0)) {
        throw new CliError('--limit must be a positive integer', EXIT.usage);
      }
      const stores = openLocal(dataDir);
      const release = opts.dryRun
        ? () => {}
        : acquireSyncLock(stores.db, dataDir, Date.now(), 'push');
      try {
        const userId = await archiveUser(stores, opts.userId);
        const r = await runPush({
          stores,
          userId,
          clock: ctx.clock,
          log: ctx.logFor(g),
          signal: ctx.signal,
          filter: { since: opts.since, until: opts.until, types: opts.type?.split(',') },
          limit: opts.limit,
          dryRun: opts.dryRun === true,
          mute: opts.mute !== false,
          prefer: opts.format,
          limits: {
            overall: opts.rateLimit ?? STRAVA_DEFAULT_LIMITS.overall,
            read: opts.readRateLimit ?? STRAVA_DEFAULT_LIMITS.read,
          },
          firstPollMs: opts.firstPollMs,
          onProgress: g.quiet || g.json ? undefined : (line) => process.stderr.write(`${line}\n`),
        });
        if (g.json) ctx.out(JSON.stringify(r));
        else ctx.out(describePush(r));
        if (!('dryRun' in r)) {
          if (r.stopped === 'revoked') ctx.setExitCode(EXIT.unauthorised);
          else if (r.failed > 0 || r.stopped === 'unavailable') ctx.setExitCode(EXIT.failed);
        }
      } finally {
        release();
        stores.close();
      }
    });
}

export { countStates };
