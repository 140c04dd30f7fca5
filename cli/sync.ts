/**
 * One local sync: the Lambdas' planner, budget and fetcher (`driveLocalSync`) on the
 * local adapters and an in-process delayed queue. Shared by `rk-sync sync` and the demo.
 *
 * Crash safety: raw files are written atomically at deterministic keys and the ledger
 * transitions are conditional, so after a kill -9 at any point the next sync re-plans
 * (lease 0: every ENQUEUED item is a lost message) and stores each activity exactly once.
 * The index, manifest and derived files converge the same way (derived-state.ts); a full or
 * read-only disk stops the run at once with what to do (storage.ts).
 */

import { MemoryQueue } from '../functions/adapters/memory/index.ts';
import { baseUrlProblem } from '../functions/core/base-url.ts';
import { budgetKey } from '../functions/core/budget.ts';
import { type Clock, ScaledClock } from '../functions/core/clock.ts';
import { derivedHook } from '../functions/core/export/derive.ts';
import { HealthGraphClient, LOCAL_RETRY } from '../functions/core/healthgraph/client.ts';
import { fetchMedia } from '../functions/core/healthgraph/media.ts';
import type { FeedName } from '../functions/core/keys.ts';
import type { LedgerCounts, LedgerItem, Log } from '../functions/core/ports.ts';
import { storageFault } from '../functions/core/storage-fault.ts';
import { defaultSyncConfig } from '../functions/core/sync/config.ts';
import { type DriveResult, driveLocalSync } from '../functions/core/sync/driver.ts';
import { callsEtaMs } from '../functions/core/sync/eta.ts';
import type { FetcherDeps } from '../functions/core/sync/fetcher.ts';
import { reopenFailed } from '../functions/core/sync/retry.ts';
import { markRebuildOwed, settleDerived } from './derived-state.ts';
import { CliError, EXIT } from './errors.ts';
import { budgetConfig, budgetFor, type LocalStores } from './local.ts';
import { acquireSyncLock } from './lock.ts';
import {
  makeReporter,
  type ProgressMode,
  type ProgressSnapshot,
  type Reporter,
} from './progress.ts';
import { storageCliError } from './storage.ts';

export interface SyncRunOptions {
  stores: LocalStores;
  apiBaseUrl: string;
  clock: Clock;
  rateLimit: number;
  rateWindowSeconds: number;
  feeds: FeedName[];
  comments: boolean;
  /** Re-open FAILED and backing-off items before syncing. */
  retryFailed?: boolean;
  signal: AbortSignal;
  log: Log;
  progress: ProgressMode;
  command: string;
  /** Called on every (throttled) progress tick, e.g. to persist the demo's virtual clock. */
  onTick?: () => void;
  /** Lets the logger clear the progress bar before writing a line. */
  reporterRef?: { current?: Reporter };
}

export interface Failure {
  userId: string;
  feed: FeedName;
  id: string;
  status: string;
  reason: string;
}

export interface SyncSummary {
  stopped: DriveResult['stopped'];
  exitCode: number;
  users: string[];
  stored: number;
  known: number;
  pending: number;
  /** Reported by the feed's size but not listed yet (an interrupted first sync). */
  unlisted: number;
  /** Pending because still being recorded upstream (fetched again later). */
  stillRecording: number;
  enqueued: number;
  failed: number;
  deleted: number;
  fetched: number;
  unchanged: number;
  apiCalls: number;
  schedulerRuns: number;
  elapsedSeconds: number;
  failures: Failure[];
  error?: string | undefined;
}

const EMPTY: LedgerCounts = { PENDING: 0, ENQUEUED: 0, SYNCED: 0, DELETED: 0, FAILED: 0 };

/** A PENDING item that failed transiently (not a live activity waiting to finish). */
export function isRetryFailure(it: LedgerItem): boolean {
  return it.status === 'PENDING' && it.lastError !== undefined && !isStillRecording(it);
}

/** A live activity: stored as it is now, fetched again by a later sync (not a failure). */
export function isStillRecording(it: LedgerItem): boolean {
  return (
    it.status === 'PENDING' &&
    it.lastError !== undefined &&
    /is_live|still being recorded/.test(it.lastError)
  );
}

/** Items a feed reported (its `size`) that no page has listed yet: part of the total. */
async function unlistedCount(stores: LocalStores, userId: string): Promise<number> {
  let unlisted = 0;
  const a = await stores.accounts.get(userId);
  for (const cur of Object.values(a?.cursors ?? {})) {
    if (cur && !cur.done && cur.size !== undefined) unlisted += Math.max(0, cur.size - cur.seen);
  }
  return unlisted;
}

export async function listFailures(stores: LocalStores, userIds: string[]): Promise<Failure[]> {
  const out: Failure[] = [];
  for (const userId of userIds) {
    for (const it of await stores.ledger.list(userId)) {
      if (it.status === 'FAILED' || isRetryFailure(it)) {
        out.push({
          userId,
          feed: it.feed,
          id: it.id,
          status: it.status,
          reason: it.lastError ?? '',
        });
      }
    }
  }
  return out;
}

export async function runSync(o: SyncRunOptions): Promise<SyncSummary> {
  try {
    return await syncOnce(o);
  } catch (e) {
    throw storageCliError(e, o.stores.dataDir) ?? e;
  }
}

async function syncOnce(o: SyncRunOptions): Promise<SyncSummary> {
  const { stores, clock } = o;
  // The remembered address (state database) obeys the same rule as the flags.
  const problem = baseUrlProblem(o.apiBaseUrl);
  if (problem) throw new CliError(`API base URL ${problem}`, EXIT.usage);
  const accounts = await stores.accounts.list();
  if (accounts.length === 0) {
    throw new CliError(
      `not authorised: no account in ${stores.dataDir}; run "rk-sync auth" first`,
      EXIT.unauthorised,
    );
  }
  const active: string[] = [];
  for (const a of accounts) {
    if (a.status === 'ACTIVE' && (await tokenOf(stores, a.userId))) active.push(a.userId);
  }
  if (active.length === 0) {
    const revoked = accounts.some((a) => a.status === 'REVOKED');
    throw new CliError(
      revoked
        ? 'access was revoked on runkeeper.com; run "rk-sync auth" again'
        : 'no credentials stored; run "rk-sync auth" again',
      EXIT.unauthorised,
    );
  }

  const release = acquireSyncLock(stores.db, stores.dataDir);
  const started = Date.now();
  const runId = Number(
    stores.db.db
      .prepare('INSERT INTO runs (command, started_at) VALUES (?, ?)')
      .run(o.command, started).lastInsertRowid,
  );
  let finished = false;
  // A full disk found by a progress tick stops the run like Ctrl-C, then is reported as such.
  const stop = new AbortController();
  const signal = AbortSignal.any([o.signal, stop.signal]);
  try {
    const owed = markRebuildOwed(stores.db, active);
    const before = await countAll(stores, active);
    // The in-process queue starts empty: messages planned by an earlier process are gone,
    // so their due times must not delay this run's planning.
    for (const userId of active) {
      for (let i = 0; i < 3; i++) {
        const a = await stores.accounts.get(userId);
        if (!a?.lastRun || a.lastRun.lastDueAt === undefined) break;
        const { lastDueAt: _gone, ...rest } = a.lastRun;
        if (await stores.accounts.save({ ...a, lastRun: rest })) break;
      }
    }

    if (o.retryFailed) {
      for (const userId of active) {
        const n = await reopenFailed(stores.ledger, userId, clock.now());
        if (n > 0) o.log.info(`re-opened ${n} failed item(s) for user ${userId}`);
      }
    }

    const bcfg = budgetConfig(o.rateLimit, o.rateWindowSeconds);
    const budget = budgetFor(stores.db, bcfg);
    const queue = new MemoryQueue(() => clock.now());
    let apiCalls = 0;
    const deps: FetcherDeps = {
      clock,
      budget,
      ledger: stores.ledger,
      accounts: stores.accounts,
      tokens: stores.tokens,
      store: stores.store,
      queue,
      log: o.log,
      signal,
      // GPX, TCX, GeoJSON and the index row beside each raw activity (never fails a fetch),
      // and its photos under media/ by the fetcher's own code, as in AWS (https, or the API's
      // own origin, e.g. a simulator on loopback; no token is ever sent with them).
      onStored: derivedHook(stores.store, o.log),
      media: (url: string) => fetchMedia(url, { extraOrigins: [new URL(o.apiBaseUrl).origin] }),
      api: (token, userId) =>
        new HealthGraphClient(
          { apiBaseUrl: o.apiBaseUrl },
          {
            token,
            budget,
            budgetKey: budgetKey(userId),
            clock,
            retry: LOCAL_RETRY,
            log: o.log,
            signal,
            onCall: () => {
              apiCalls++;
            },
          },
        ),
    };
    const cfg = defaultSyncConfig(
      { limit: bcfg.limit, windowMs: bcfg.windowMs },
      { feeds: o.feeds, comments: o.comments, docs: true },
    );
    const scale = clock instanceof ScaledClock ? clock.scale : 1;
    const capacity = Math.max(1, bcfg.limit - bcfg.margin);

    const reporter = makeReporter(o.progress);
    if (o.reporterRef) o.reporterRef.current = reporter;
    const snapshot = async (): Promise<ProgressSnapshot> => {
      const c = { ...EMPTY };
      let unlisted = 0;
      let used = 0;
      let etaMs = 0;
      for (const userId of active) {
        const k = await stores.ledger.counts(userId);
        for (const s of Object.keys(c) as (keyof LedgerCounts)[]) c[s] += k[s];
        const u = await unlistedCount(stores, userId);
        unlisted += u;
        used = Math.max(used, (await budget.inspect(budgetKey(userId), clock.now())).used);
        // Free slots go at once, later ones as the window frees them (one page per 100 listed).
        const calls = k.PENDING + k.ENQUEUED + u + Math.ceil(u / cfg.pageSize);
        etaMs = Math.max(etaMs, await callsEtaMs(budget, budgetKey(userId), clock.now(), calls));
      }
      const known = c.PENDING + c.ENQUEUED + c.SYNCED + c.FAILED + unlisted;
      return {
        stored: c.SYNCED,
        known,
        apiCalls,
        budgetUsed: used,
        budgetCapacity: capacity,
        etaMs: etaMs / scale,
      };
    };
    let lastTick = 0;
    let ticking = false;
    const tick = async (force = false) => {
      const now = Date.now();
      if (ticking || (!force && now - lastTick < 250)) return;
      ticking = true;
      lastTick = now;
      try {
        reporter.update(await snapshot());
        o.onTick?.();
      } catch (e) {
        // A full or read-only disk (e.g. the demo saving its clock) stops the run; a display
        // problem does not.
        if (storageFault(e)) stop.abort(e);
      } finally {
        ticking = false;
      }
    };

    await tick(true);
    let result: DriveResult;
    try {
      result = await driveLocalSync(deps, queue, cfg, active, {
        signal,
        onProgress: () => {
          void tick();
        },
      });
    } finally {
      await tick(true).catch(() => {});
      reporter.stop();
      if (o.reporterRef) o.reporterRef.current = undefined;
    }

    if (stop.signal.aborted && !o.signal.aborted) throw stop.signal.reason;
    const c = await countAll(stores, active);
    let unlisted = 0;
    let stillRecording = 0;
    for (const userId of active) {
      unlisted += await unlistedCount(stores, userId);
      stillRecording += (await stores.ledger.list(userId, 'PENDING')).filter(
        isStillRecording,
      ).length;
    }
    if (result.stopped !== 'aborted') {
      // Interrupted runs leave the rebuild owed to the next one.
      const changed =
        result.outcomes.synced + result.outcomes.deleted > 0 ||
        c.SYNCED !== before.SYNCED ||
        c.DELETED !== before.DELETED;
      await settleDerived(stores, active, o.log, { changed, owed });
    }
    const failures = await listFailures(stores, active);
    const exitCode =
      result.stopped === 'aborted'
        ? EXIT.interrupted
        : result.stopped === 'revoked'
          ? EXIT.unauthorised
          : result.stopped === 'error' || failures.length > 0
            ? EXIT.failed
            : EXIT.ok;
    const summary: SyncSummary = {
      stopped: result.stopped,
      exitCode,
      users: active,
      stored: c.SYNCED,
      // The same total as the progress bar: listed items plus those the feed reports unlisted.
      known: c.PENDING + c.ENQUEUED + c.SYNCED + c.FAILED + unlisted,
      pending: c.PENDING,
      unlisted,
      stillRecording,
      enqueued: c.ENQUEUED,
      failed: failures.length,
      deleted: c.DELETED,
      fetched: result.outcomes.synced,
      unchanged: result.outcomes.unchanged,
      apiCalls,
      schedulerRuns: result.runs,
      elapsedSeconds: Math.round((Date.now() - started) / 100) / 10,
      failures: failures.slice(0, 50),
      ...(result.error ? { error: result.error } : {}),
    };
    stores.db.db
      .prepare('UPDATE runs SET finished_at = ?, outcome = ?, summary = ? WHERE id = ?')
      .run(Date.now(), result.stopped, JSON.stringify({ ...summary, failures: undefined }), runId);
    finished = true;
    return summary;
  } finally {
    if (!finished) {
      try {
        stores.db.db
          .prepare('UPDATE runs SET finished_at = ?, outcome = ? WHERE id = ?')
          .run(Date.now(), o.signal.aborted ? 'aborted' : 'error', runId);
      } catch {
        // the run stays "did not finish" in status
      }
    }
    release();
  }
}

export function describeSummary(s: SyncSummary): string {
  const head =
    s.stopped === 'done'
      ? 'sync complete'
      : s.stopped === 'aborted'
        ? 'sync interrupted (everything stored so far is kept; run it again to resume)'
        : s.stopped === 'revoked'
          ? 'access was revoked on runkeeper.com; run "rk-sync auth" again'
          : `sync stopped on an error${s.error ? `: ${s.error}` : ''}`;
  const lines = [
    `rk-sync: ${head}`,
    `  stored ${s.stored}/${s.known} (this run: ${s.fetched} new or changed, ${s.unchanged} unchanged), deleted upstream ${s.deleted}, pending ${s.pending + s.enqueued + s.unlisted}${pendingWhy(s)}, failed ${s.failed}`,
    `  ${s.apiCalls} API calls in ${s.elapsedSeconds} s`,
  ];
  if (s.stopped === 'error' && /cannot reach|did not answer/.test(s.error ?? '')) {
    lines.push(
      '  hint: check the network connection and the API address (remembered from "rk-sync auth"; --api-base-url overrides it); everything stored so far is kept, run the sync again to continue',
    );
  }
  for (const f of s.failures.slice(0, 10)) lines.push(`  failed ${f.feed}/${f.id}: ${f.reason}`);
  if (s.failures.length > 10) lines.push(`  … ${s.failures.length - 10} more (rk-sync status)`);
  return lines.join('\n');
}

/** Why items are pending, in words: not listed yet, still being recorded. */
export function pendingWhy(s: { unlisted: number; stillRecording: number }): string {
  const why: string[] = [];
  if (s.unlisted > 0) why.push(`${s.unlisted} not listed yet`);
  if (s.stillRecording > 0) {
    why.push(`${s.stillRecording} still being recorded, fetched again by a later sync`);
  }
  return why.length ? ` (${why.join('; ')})` : '';
}

async function countAll(stores: LocalStores, userIds: string[]): Promise<LedgerCounts> {
  const c = { ...EMPTY };
  for (const userId of userIds) {
    const k = await stores.ledger.counts(userId);
    for (const s of Object.keys(c) as (keyof LedgerCounts)[]) c[s] += k[s];
  }
  return c;
}

/** The stored token; an unreadable credentials file means "authorise again" (exit 3). */
async function tokenOf(stores: LocalStores, userId: string): Promise<string | undefined> {
  try {
    return await stores.tokens.get(userId);
  } catch (e) {
    if (storageCliError(e)) throw e;
    throw new CliError(
      `${e instanceof Error ? e.message : String(e)}; run "rk-sync auth" again to store new credentials`,
      EXIT.unauthorised,
    );
  }
}
