/**
 * rk-sync: a complete, private backup of your Runkeeper data, on this machine.
 * Commands: auth, sync, status, demo, export, import, verify, report, invite, unlink, restore,
 * link strava, push strava. See `rk-sync --help` (exit codes in cli/errors.ts).
 * Long because it is the one place every command's options and action are wired; the logic
 * lives in the per-command files (sync.ts, status.ts, invite.ts, restore.ts, …).
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { zipFromFile } from '../functions/adapters/zip.ts';
import { systemClock } from '../functions/core/clock.ts';
import { deletedIdsInArchive } from '../functions/core/export/deleted-ids.ts';
import { rerenderAll } from '../functions/core/export/derive.ts';
import { importExportZip } from '../functions/core/import/archive.ts';
import type { FeedName } from '../functions/core/keys.ts';
import { redactSecrets } from '../functions/core/redact.ts';
import { allUsers, openArchive } from './archive.ts';
import { authorize, promptHidden } from './auth.ts';
import { describeDemo, runDemo } from './demo.ts';
import { CliError, EXIT, EXIT_CODES_HELP, Interrupted } from './errors.ts';
import { describeImport } from './import.ts';
import { mintStackInvite } from './invite.ts';
import { cliLog, openLocal } from './local.ts';
import { runnable, thisCommand } from './next-step.ts';
import { chooseMode, type Reporter } from './progress.ts';
import { registerStrava } from './push.ts';
import { describeStravaDemo, runStravaDemo } from './push-demo.ts';
import { refreshLocalReport, registerReportCommand } from './report.ts';
import { restoreCommand } from './restore-command.ts';
import {
  type ConfigFile,
  configRate,
  DEFAULTS,
  feedsOption,
  intOption,
  loadConfig,
  parseFeeds,
  positiveNumber,
  urlOption,
} from './settings.ts';
import { describeStatus, statusReport } from './status.ts';
import { storageCliError } from './storage.ts';
import { describeSummary, runSync } from './sync.ts';
import { describeUnlink, unlinkLocal, unlinkStack, wantsStack } from './unlink.ts';

interface GlobalOpts {
  dataDir: string;
  config?: string;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
}

// ---------------------------------------------------------------- signals

const controller = new AbortController();
let signalCount = 0;
function onSignal(sig: NodeJS.Signals) {
  signalCount++;
  if (signalCount > 1) {
    process.stderr.write(`rk-sync: ${sig} again, exiting now\n`);
    process.exit(EXIT.interrupted);
  }
  controller.abort(new Interrupted(`interrupted by ${sig}`));
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// ---------------------------------------------------------------- output helpers

const reporterRef: { current?: Reporter } = {};
let verbose = process.argv.includes('--verbose');

function out(line: string) {
  process.stdout.write(`${line}\n`);
}

function settingsOf(cmd: Command): { g: GlobalOpts; cfg: ConfigFile; dataDir: string } {
  const g = cmd.optsWithGlobals<GlobalOpts>();
  verbose = g.verbose;
  const cfg = g.config ? loadConfig(g.config) : {};
  const explicit = cmd.getOptionValueSourceWithGlobals('dataDir') === 'cli';
  const dataDir = resolve(explicit ? g.dataDir : (cfg.dataDir ?? g.dataDir));
  return { g, cfg, dataDir };
}

function logFor(g: GlobalOpts) {
  return cliLog({
    quiet: g.quiet,
    verbose: g.verbose,
    onLine: () => reporterRef.current?.interrupt(),
  });
}

function pick<T>(cli: T | undefined, cfg: T | undefined, fallback: T): T {
  return cli !== undefined ? cli : cfg !== undefined ? cfg : fallback;
}

function openBrowser(url: string): boolean {
  const cmd =
    process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? '' : 'xdg-open';
  if (!cmd) return false;
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return false;
  }
  try {
    const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- program

const program = new Command()
  .name('rk-sync')
  .description(
    'A complete, private backup of your Runkeeper data: every activity as raw JSON under a data directory (same layout as the AWS bucket), kept current within the API limit.',
  )
  .exitOverride()
  .showSuggestionAfterError(false)
  .configureOutput({
    outputError: (str, write) => write(`rk-sync: ${str.replace(/^error: /, '').trimEnd()}\n`),
  })
  .option('--data-dir <dir>', 'data directory', DEFAULTS.dataDir)
  .option(
    '--config <file>',
    'JSON config file (clientId, apiBaseUrl, authBaseUrl, dataDir, port, rateLimit, rateWindow, feeds, comments)',
  )
  .option('--json', 'machine-readable output (one JSON document on stdout)', false)
  .option('--quiet', 'no progress output', false)
  .option('--verbose', 'debug logs, and stack traces for unexpected errors', false)
  .addHelpText('after', `\n${EXIT_CODES_HELP}\n\nStart with: rk-sync demo   (no account needed)`);

let exitCode: number = EXIT.ok;

program
  .command('auth')
  .description(
    'link your Runkeeper account: opens the authorisation page, receives the answer on a loopback address, stores the token (0600) in the data directory',
  )
  .option('--client-id <id>', 'client id of your Runkeeper API app')
  .option(
    '--port <n>',
    `loopback port; the app's redirect URI must be http://127.0.0.1:<port>/callback (default ${DEFAULTS.port}; 0 = any free port)`,
    intOption(0, 65535),
  )
  .option('--no-browser', 'only print the URL, do not open a browser')
  .option(
    '--timeout <seconds>',
    'give up waiting for the browser after this long',
    positiveNumber(86_400),
    300,
  )
  .option('--api-base-url <url>', `API base URL (default ${DEFAULTS.apiBaseUrl})`, urlOption)
  .option(
    '--auth-base-url <url>',
    `authorisation server base URL (default ${DEFAULTS.authBaseUrl})`,
    urlOption,
  )
  .addHelpText(
    'after',
    '\nThe client secret is read from the RK_CLIENT_SECRET environment variable, or asked for (hidden).\nThe token is never printed.',
  )
  .action(async (opts, cmd: Command) => {
    const { g, cfg, dataDir } = settingsOf(cmd);
    const clientId: string | undefined = opts.clientId ?? cfg.clientId;
    if (!clientId)
      throw new CliError('--client-id is required (or clientId in --config)', EXIT.usage);
    const port = pick<number>(opts.port, cfg.port, DEFAULTS.port);
    const apiBaseUrl = pick<string>(opts.apiBaseUrl, cfg.apiBaseUrl, DEFAULTS.apiBaseUrl);
    const authBaseUrl = pick<string>(opts.authBaseUrl, cfg.authBaseUrl, DEFAULTS.authBaseUrl);
    const envSecret = process.env.RK_CLIENT_SECRET;
    const secret = envSecret ?? (await promptHidden('Runkeeper client secret: '));
    if (!secret) throw new CliError('the client secret is empty', EXIT.usage);
    const rate = configRate(cfg);
    const stores = openLocal(dataDir);
    try {
      const r = await authorize(stores, {
        authBaseUrl,
        apiBaseUrl,
        clientId,
        clientSecret: async () => secret,
        port,
        timeoutMs: opts.timeout * 1000,
        clock: systemClock,
        signal: controller.signal,
        rateLimit: rate.calls ?? DEFAULTS.rateLimit,
        rateWindowSeconds: rate.windowSeconds ?? DEFAULTS.rateWindowSeconds,
        again: thisCommand(),
        onUrl: (url) => {
          const opened = opts.browser !== false && openBrowser(url);
          process.stderr.write(
            `${opened ? 'Opened your browser at' : 'Open this address in your browser to authorise rk-sync'}:\n  ${url}\nWaiting for the answer on 127.0.0.1 (Ctrl-C to cancel)…\n`,
          );
        },
      });
      if (g.json)
        out(JSON.stringify({ ok: true, userId: r.userId, relinked: r.relinked, dataDir }));
      else
        out(
          `rk-sync: authorised Runkeeper user ${r.userId}${r.relinked ? ' (again)' : ''}; next: ${runnable('sync', dataDir)}`,
        );
    } finally {
      stores.close();
    }
  });

program
  .command('sync')
  .description(
    'download everything new or changed since the last sync, paced by the API limit (resumable)',
  )
  .option(
    '--feeds <list>',
    'fitnessActivities, all, or a comma-separated list of feeds',
    feedsOption,
  )
  .option(
    '--rate-limit <n>',
    `API calls allowed per window per user (default ${DEFAULTS.rateLimit})`,
    intOption(1, 100_000),
  )
  .option(
    '--rate-window <seconds>',
    `the API's window (default ${DEFAULTS.rateWindowSeconds})`,
    positiveNumber(86_400),
  )
  .option(
    '--comments',
    "also store each activity's comment thread (one more call per activity with comments)",
  )
  .option('--api-base-url <url>', 'API base URL (default: the one used by auth)', urlOption)
  .option(
    '--retry-failed',
    'fetch again the items that failed (invalid payloads) or are backing off after errors',
  )
  .addHelpText('after', `\n${EXIT_CODES_HELP}`)
  .action(async (opts, cmd: Command) => {
    const { g, cfg, dataDir } = settingsOf(cmd);
    const rate = configRate(cfg);
    const feeds: FeedName[] =
      opts.feeds ?? (cfg.feeds !== undefined ? parseFeedsCfg(cfg.feeds) : ['fitnessActivities']);
    // Never creates the data directory: without `auth` there is nothing to sync.
    const stores = openExisting(dataDir);
    try {
      const apiBaseUrl =
        opts.apiBaseUrl ??
        cfg.apiBaseUrl ??
        stores.db.getMeta('api_base_url') ??
        DEFAULTS.apiBaseUrl;
      const s = await runSync({
        stores,
        apiBaseUrl,
        clock: systemClock,
        rateLimit: pick<number>(opts.rateLimit, rate.calls, DEFAULTS.rateLimit),
        rateWindowSeconds: pick<number>(
          opts.rateWindow,
          rate.windowSeconds,
          DEFAULTS.rateWindowSeconds,
        ),
        feeds,
        comments: opts.comments ?? cfg.comments ?? false,
        retryFailed: opts.retryFailed === true,
        signal: controller.signal,
        log: logFor(g),
        progress: chooseMode(g),
        command: 'sync',
        reporterRef,
      });
      if (g.json) out(JSON.stringify(s));
      else if (!g.quiet || s.exitCode !== EXIT.ok) out(describeSummary(s));
      exitCode = s.exitCode;
    } finally {
      stores.close();
    }
  });

program
  .command('status')
  .description(
    'what is stored, pending and failed (with reasons), the call budget, cursors and the last run',
  )
  .option(
    '--rate-limit <n>',
    'API calls allowed per window (for the budget view)',
    intOption(1, 100_000),
  )
  .option(
    '--rate-window <seconds>',
    "the API's window (for the budget view)",
    positiveNumber(86_400),
  )
  .option('--aws', 'the AWS deployment instead of the local data (stack outputs: see --stack)')
  .option(
    '--stack <name>',
    'the AWS deployment of this CloudFormation stack (implies --aws; default RkSync)',
  )
  .option('--outputs <file>', 'with --aws: stack outputs written by `npm run deploy`')
  .option('--region <region>', 'with --aws: AWS region (default: your AWS configuration)')
  .action(async (opts, cmd: Command) => {
    const { g, cfg, dataDir } = settingsOf(cmd);
    const rate = configRate(cfg);
    const budgetRate = {
      limit: pick<number>(opts.rateLimit, rate.calls, DEFAULTS.rateLimit),
      windowSeconds: pick<number>(opts.rateWindow, rate.windowSeconds, DEFAULTS.rateWindowSeconds),
    };
    if (opts.aws || opts.stack !== undefined) {
      // Loaded only when asked for: the AWS SDK clients are not needed by the local commands.
      const { awsStatusReport, describeAwsStatus } = await import('./status-aws.ts');
      const r = await awsStatusReport(opts, budgetRate);
      if (g.json) out(JSON.stringify(r));
      else out(describeAwsStatus(r, Date.now()));
      if (r.accounts.length === 0) exitCode = EXIT.unauthorised;
      return;
    }
    // A read-only data directory can still be inspected.
    const stores = openArchive(
      dataDir,
      'run "rk-sync auth", "rk-sync import <zip>" or "rk-sync demo"',
      EXIT.unauthorised,
      true,
    );
    try {
      const r = await statusReport(stores, systemClock, budgetRate);
      if (g.json) out(JSON.stringify(r));
      else out(describeStatus(r, Date.now()));
      // An archive without a linked account (ZIP import, a copy of the bucket) is a fine state.
      if (r.accounts.length === 0 && (r.archive ?? []).length === 0) exitCode = EXIT.unauthorised;
    } finally {
      stores.close();
    }
  });

program
  .command('demo')
  .description(
    'try rk-sync without an account: a local Health Graph simulator with the real rate limit on a faster clock, authorised and synced end to end',
  )
  .option('--activities <n>', 'activities in the simulated account', intOption(0, 100_000), 300)
  .option('--seed <n>', 'data seed (same seed, same activities)', intOption(0, 2 ** 31), 42)
  .option(
    '--duration <seconds>',
    'target real duration; chooses the clock speed-up',
    positiveNumber(3600),
    40,
  )
  .option('--push <destination>', 'then push the demo archive to a simulated Strava ("strava")')
  .addOption(
    new Option('--time-scale <n>', 'force the clock speed-up')
      .argParser(positiveNumber(10_000))
      .hideHelp(),
  )
  .addHelpText(
    'after',
    '\nData goes to ./rk-data/demo unless --data-dir is given. Rerun after an interruption to resume.',
  )
  .action(async (opts, cmd: Command) => {
    const g = cmd.optsWithGlobals<GlobalOpts>();
    verbose = g.verbose;
    if (g.config) loadConfig(g.config); // validated, but the demo never mixes with real settings
    const explicit = cmd.getOptionValueSourceWithGlobals('dataDir') === 'cli';
    const dataDir = resolve(explicit ? g.dataDir : './rk-data/demo');
    const stores = openLocal(dataDir);
    try {
      const d = await runDemo({
        stores,
        activities: opts.activities,
        seed: opts.seed,
        durationSeconds: opts.duration,
        timeScale: opts.timeScale,
        signal: controller.signal,
        log: logFor(g),
        progress: chooseMode(g),
        reporterRef,
        announce: (line) => {
          if (!g.quiet && !g.json) process.stderr.write(`${line}\n`);
        },
      });
      if (opts.push !== undefined && opts.push !== 'strava') {
        throw new CliError('--push: the only destination is "strava"', EXIT.usage);
      }
      const strava =
        opts.push && d.stopped === 'done'
          ? await runStravaDemo({
              stores,
              userId: d.userId,
              activities: d.activities,
              durationSeconds: Math.max(5, opts.duration / 2),
              signal: controller.signal,
              log: logFor(g),
              announce: (line) => {
                if (!g.quiet && !g.json) process.stderr.write(`${line}\n`);
              },
            })
          : undefined;
      if (g.json) out(JSON.stringify(strava ? { ...d, strava } : d));
      else out(strava ? `${describeDemo(d)}\n${describeStravaDemo(strava)}` : describeDemo(d));
      exitCode = d.exitCode || (strava?.exitCode ?? EXIT.ok);
    } finally {
      stores.close();
    }
  });

program
  .command('export')
  .description(
    'render every derived file again from the raw documents: GPX, TCX, GeoJSON per activity, the CSV/NDJSON index and the manifest (after an upgrade, or if something was edited by hand)',
  )
  .option(
    '--fit',
    'also write fit/{userId}/fitnessActivities/{id}.fit (FIT activity files; activities without a known UTC start are skipped)',
  )
  .action(async (opts: { fit?: boolean }, cmd: Command) => {
    const { g, dataDir } = settingsOf(cmd);
    // Loaded only when asked for: the FIT SDK's profile is ~1 MB of JavaScript.
    const fit = opts.fit ? await import('../functions/core/export/fit.ts') : undefined;
    const stores = openArchive(dataDir, 'nothing to export');
    try {
      const log = logFor(g);
      const results: {
        userId: string;
        rendered: number;
        failed: number;
        rows: number;
        fit?: number;
        fitSkipped?: number;
        fitFailed?: number;
      }[] = [];
      // Linked accounts, and archive-only users (`import` alone, or a copy of the bucket).
      const userIds = await allUsers(stores);
      for (const userId of userIds) {
        // No ledger for this user (a copy of the AWS bucket): the archive's own index has the marks.
        const deleted =
          (await stores.ledger.list(userId)).length > 0
            ? new Set((await stores.ledger.list(userId, 'DELETED')).map((it) => it.id))
            : await deletedIdsInArchive(stores.store, userId);
        // FIT first, so the manifest rerenderAll writes at its end lists the FIT files too.
        const fits = fit && (await fit.writeFitFiles(stores.store, userId, log));
        results.push({
          userId,
          ...(await rerenderAll(stores.store, userId, log, deleted)),
          ...fits,
        });
      }
      if (g.json) out(JSON.stringify({ dataDir, users: results }));
      else {
        for (const r of results) {
          out(
            `rk-sync: user ${r.userId}: ${r.rendered} activities rendered, ${r.failed} failed, index of ${r.rows} rows, manifest rebuilt${r.fit === undefined ? '' : `; ${r.fit} FIT files (${r.fitSkipped} without a UTC start, ${r.fitFailed} failed)`}`,
          );
        }
        if (results.length === 0) out('rk-sync: no account in this data directory');
      }
      if (results.some((r) => r.failed > 0 || (r.fitFailed ?? 0) > 0)) exitCode = EXIT.failed;
    } finally {
      stores.close();
    }
  });

program
  .command('import')
  .argument('<zip>', "Runkeeper's own data export (runkeeper.com → Settings → Export Data)")
  .description(
    'import an export ZIP into the archive: each activity as an API-shaped raw document with its GPX, TCX, GeoJSON and index row, every original file kept; activities the API already delivered are merged in the index (both sources recorded)',
  )
  .option(
    '--user-id <id>',
    'the Runkeeper user id to file it under (default: the linked account, else 0)',
  )
  .action(async (zip: string, opts: { userId?: string }, cmd: Command) => {
    const { g, dataDir } = settingsOf(cmd);
    const path = resolve(zip);
    if (!existsSync(path) || !statSync(path).isFile())
      throw new CliError(`no such file: ${zip}`, EXIT.usage);
    if (opts.userId !== undefined && !/^[0-9]{1,20}$/.test(opts.userId)) {
      throw new CliError('--user-id must be a number', EXIT.usage);
    }
    const stores = openLocal(dataDir);
    try {
      const accounts = await stores.accounts.list();
      let userId = opts.userId;
      if (userId === undefined) {
        if (accounts.length > 1)
          throw new CliError('several accounts are linked: choose one with --user-id', EXIT.usage);
        userId = accounts[0]?.userId ?? '0';
      }
      const report = await importExportZip(stores.store, userId, zipFromFile(path), {
        log: logFor(g),
      });
      if (report.activities > 0) await refreshLocalReport(stores.store, userId, logFor(g));
      if (g.json) out(JSON.stringify({ dataDir, userId, ...report }));
      else out(describeImport(report, userId));
      // Duplicate rows and files that are not data are notices, not failures.
      if (report.activities === 0 || report.errors.length > 0) exitCode = EXIT.failed;
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(`cannot read ${zip} as a ZIP: ${(e as Error).message}`, EXIT.usage);
    } finally {
      stores.close();
    }
  });

program
  .command('verify')
  .description(
    'check the archive against its manifest: sha256 and size of every listed file, missing files and files the manifest does not list (exit 1 on any mismatch)',
  )
  .option(
    '--bucket <name>',
    'verify the S3 bucket instead of the data directory (your AWS credentials)',
  )
  .option('--region <region>', 'AWS region of the bucket (default: your AWS configuration)')
  .option('--user-id <id>', 'only this user (default: every user in the archive)')
  .action(async (opts: { bucket?: string; region?: string; userId?: string }, cmd: Command) => {
    const { g, dataDir } = settingsOf(cmd);
    // Loaded only when asked for: the S3 client is not needed by any other local command.
    const { describeVerify, runVerify } = await import('./verify.ts');
    const r = await runVerify({ dataDir, ...opts });
    if (g.json) out(JSON.stringify(r));
    else out(describeVerify(r));
    if (!r.ok) exitCode = EXIT.failed;
  });

program
  .command('invite')
  .description(
    "AWS deployment: mint a one-time link that lets you link (the first time too) or re-link your Runkeeper account through the stack's /authorize route; bound to the owner's Runkeeper user once one is linked. Uses your AWS credentials; prints the link once.",
  )
  .option(
    '--outputs <file>',
    'stack outputs written by `npm run deploy` (default: ./cdk-outputs.json)',
  )
  .option(
    '--stack <name>',
    'the stack: which one in the outputs file, or (no outputs file) the CloudFormation stack to read the outputs from (default RkSync)',
  )
  .option('--table <name>', 'the TableName output (instead of --outputs)')
  .option('--authorize-url <url>', 'the AuthorizeUrl output (instead of --outputs)')
  .option('--region <region>', 'AWS region (default: your AWS configuration)')
  .option('--hours <n>', 'how long the link stays valid (≤ 168)', '24')
  .action(
    async (
      opts: {
        outputs?: string;
        stack?: string;
        table?: string;
        authorizeUrl?: string;
        region?: string;
        hours: string;
      },
      cmd: Command,
    ) => {
      const { g } = settingsOf(cmd);
      const r = await mintStackInvite({ ...opts, hours: Number(opts.hours) });
      if (g.json) out(JSON.stringify(r));
      else {
        out('Open this link once, in the browser you will sign in to Runkeeper with:');
        out(r.url);
        out(`It works once and expires at ${r.expiresAt}.`);
      }
    },
  );

/** An existing data directory, or exit 3 ("run rk-sync auth") without creating anything. */
function openExisting(dataDir: string, readOnly = false): ReturnType<typeof openLocal> {
  try {
    return openLocal(dataDir, { mustExist: true, readOnly });
  } catch (e) {
    if (e instanceof CliError && /^no rk-sync data/.test(e.message)) {
      throw new CliError(`${e.message}; run "rk-sync auth" (or "rk-sync demo")`, EXIT.unauthorised);
    }
    throw e;
  }
}

program
  .command('unlink')
  .argument('[userId]', 'the Runkeeper user id to remove (locally: default the only linked one)')
  .description(
    'remove a linked account: its token is deleted and it is never synced again (the archive keeps its files). Locally from --data-dir; on a deployed stack (--outputs/--stack/--table) with your AWS credentials',
  )
  .option('--outputs <file>', 'stack outputs written by `npm run deploy`')
  .option('--stack <name>', 'which stack in the outputs file')
  .option('--table <name>', 'the TableName output (instead of --outputs)')
  .option('--token-prefix <path>', 'the TokenParameterPrefix output (instead of --outputs)')
  .option('--region <region>', 'AWS region (default: your AWS configuration)')
  .action(async (userId: string | undefined, opts: Parameters<typeof unlinkStack>[1], cmd) => {
    const { g, dataDir } = settingsOf(cmd);
    let r: Awaited<ReturnType<typeof unlinkStack>>;
    if (wantsStack(opts)) {
      if (userId === undefined) throw new CliError('name the user id to unlink', EXIT.usage);
      r = await unlinkStack(userId, opts);
    } else r = await unlinkLocal(userId, dataDir);
    out(g.json ? JSON.stringify(r) : describeUnlink(r));
  });

registerReportCommand(program, { settingsOf, logFor, out, openBrowser });

registerStrava(program, {
  settingsOf,
  logFor: (g) => logFor({ verbose, ...g } as GlobalOpts),
  out,
  signal: controller.signal,
  setExitCode: (c) => {
    exitCode = c;
  },
  openBrowser,
  clock: systemClock,
});

restoreCommand(program).action(async (opts, cmd: Command) => {
  const { g } = settingsOf(cmd);
  const feeds = parseFeeds(String(opts.feed));
  if (feeds.length !== 1) throw new CliError('--feed takes one feed', EXIT.usage);
  const { describeRestore, runRestore } = await import('./restore.ts');
  const r = await runRestore({ ...opts, feed: feeds[0]! });
  if (g.json) out(JSON.stringify(r));
  else out(describeRestore(r, opts.dryRun === true));
  if (r.results.some((x) => x.action === 'missing')) exitCode = EXIT.failed;
});

function parseFeedsCfg(v: string | string[]): FeedName[] {
  try {
    return parseFeeds(v);
  } catch (e) {
    throw new CliError(`config file: feeds: ${(e as Error).message}`, EXIT.usage);
  }
}

// ---------------------------------------------------------------- run

async function main(): Promise<number> {
  try {
    await program.parseAsync(process.argv);
    if (controller.signal.aborted && exitCode === EXIT.ok) return EXIT.interrupted;
    return exitCode;
  } catch (e) {
    reporterRef.current?.stop();
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.help' ||
        e.code === 'commander.version'
      ) {
        return EXIT.ok;
      }
      return EXIT.usage;
    }
    if (controller.signal.aborted) {
      process.stderr.write('rk-sync: interrupted; everything stored so far is kept\n');
      return EXIT.interrupted;
    }
    const err = storageCliError(e) ?? e;
    if (err instanceof CliError) {
      // A sync refused because another runs is the expected case under cron: --quiet keeps it silent.
      if (!(err.exitCode === EXIT.busy && process.argv.includes('--quiet'))) {
        process.stderr.write(`rk-sync: ${err.message}\n`);
      }
      return err.exitCode;
    }
    const msg = redactSecrets(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    process.stderr.write(
      `rk-sync: unexpected error: ${msg.split('\n')[0]}${verbose ? '' : ' (run with --verbose for details)'}\n`,
    );
    if (verbose && e instanceof Error && e.stack)
      process.stderr.write(`${redactSecrets(e.stack)}\n`);
    return EXIT.failed;
  }
}

const code = await main();
process.exit(code);
