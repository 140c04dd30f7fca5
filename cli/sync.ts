/**
 * One local sync: the Lambdas' planner, budget and fetcher (`driveLocalSync`) on the
 * local adapters and an in-process delayed queue. Shared by `rk-sync sync` and the demo.
 *
 * Crash safety: raw files are written atomically at deterministic keys and the ledger
 * transitions are conditional, so after a kill -9 at any point the next sync re-plans
 * (lease 0: every ENQUEUED item is a lost message) and stores each activity exactly once.
 */

import { MemoryQueue } from '../functions/adapters/memory/index.ts';
import { budgetKey } from '../functions/core/budget.ts';
import { type Clock, ScaledClock } from '../functions/core/clock.ts';
import { buildIndex, buildManifest, derivedHook } from '../functions/core/export/derive.ts';
import { HealthGraphClient, LOCAL_RETRY } from '../functions/core/healthgraph/client.ts';
import type { FeedName } from '../functions/core/keys.ts';
import type { LedgerCounts, LedgerItem, Log } from '../functions/core/ports.ts';
import { defaultSyncConfig } from '../functions/core/sync/config.ts';
import { type DriveResult, driveLocalSync } from '../functions/core/sync/driver.ts';
import type { FetcherDeps } from '../functions/core/sync/fetcher.ts';
import { reopenFailed } from '../functions/core/sync/retry.ts';
import { CliError, EXIT } from './errors.ts';
import { acquireSyncLock, budgetConfig, budgetFor, type LocalStores } from './local.ts';
import {
  makeReporter,
  type ProgressMode,
  type ProgressSnapshot,
  type Reporter,
} from './progress.ts';
import { refreshLocalReport } from './report.ts';

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
  return (
    it.status === 'PENDING' &&
    it.lastError !== undefined &&
    !/is_live|still being recorded/.test(it.lastError)
  );
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
  const { stores, clock } = o;
  const accounts = await stores.accounts.list();
  if (accounts.length === 0) {
    throw new CliError(
      `not authorised: no account in ${stores.dataDir}; run "rk-sync auth" first`,
      EXIT.unauthorised,
    );
  }
  const active: string[] = [];
  for (const a of accounts) {
    if (a.status === 'ACTIVE' && (await stores.tokens.get(a.userId))) active.push(a.userId);
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

  const release = acquireSyncLock(stores.dataDir);
  const started = Date.now();
  const runId = Number(
    stores.db.db
      .prepare('INSERT INTO runs (command, started_at) VALUES (?, ?)')
      .run(o.command, started).lastInsertRowid,
  );
  let finished = false;
  try {
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
      // GPX, TCX, GeoJSON and the index row beside each raw activity (never fails a fetch).
      onStored: derivedHook(stores.store, o.log),
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
            signal: o.signal,
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
      for (const userId of active) {
        const k = await stores.ledger.counts(userId);
        for (const s of Object.keys(c) as (keyof LedgerCounts)[]) c[s] += k[s];
        const a = await stores.accounts.get(userId);
        for (const cur of Object.values(a?.cursors ?? {})) {
          if (cur && !cur.done && cur.size !== undefined)
            unlisted += Math.max(0, cur.size - cur.seen);
        }
        used = Math.max(used, (await budget.inspect(budgetKey(userId), clock.now())).used);
      }
      const known = c.PENDING + c.ENQUEUED + c.SYNCED + c.FAILED + unlisted;
      const remaining = c.PENDING + c.ENQUEUED + unlisted;
      return {
        stored: c.SYNCED,
        known,
        apiCalls,
        budgetUsed: used,
        budgetCapacity: capacity,
        etaMs: (remaining * bcfg.windowMs) / capacity / scale,
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
      } finally {
        ticking = false;
      }
    };

    await tick(true);
    let result: DriveResult;
    try {
      result = await driveLocalSync(deps, queue, cfg, active, {
        signal: o.signal,
        onProgress: () => {
          void tick();
        },
      });
    } finally {
      await tick(true).catch(() => {});
      reporter.stop();
      if (o.reporterRef) o.reporterRef.current = undefined;
    }

    const c = { ...EMPTY };
    for (const userId of active) {
      const k = await stores.ledger.counts(userId);
      for (const s of Object.keys(c) as (keyof LedgerCounts)[]) c[s] += k[s];
    }
    if (result.outcomes.synced + result.outcomes.deleted > 0 && result.stopped !== 'aborted') {
      await refreshIndex(stores, active, o.log);
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
      known: c.PENDING + c.ENQUEUED + c.SYNCED + c.FAILED,
      pending: c.PENDING,
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
    `  stored ${s.stored}/${s.known} (this run: ${s.fetched} new or changed, ${s.unchanged} unchanged), deleted upstream ${s.deleted}, pending ${s.pending + s.enqueued}, failed ${s.failed}`,
    `  ${s.apiCalls} API calls in ${s.elapsedSeconds} s`,
  ];
  for (const f of s.failures.slice(0, 10)) lines.push(`  failed ${f.feed}/${f.id}: ${f.reason}`);
  if (s.failures.length > 10) lines.push(`  … ${s.failures.length - 10} more (rk-sync status)`);
  return lines.join('\n');
}

/** Rebuild the CSV/NDJSON index, the manifest and the HTML report of each user (deleted activities flagged). */
export async function refreshIndex(
  stores: LocalStores,
  userIds: string[],
  log: Log,
): Promise<void> {
  for (const userId of userIds) {
    try {
      const deleted = new Set((await stores.ledger.list(userId, 'DELETED')).map((it) => it.id));
      await buildIndex(stores.store, userId, deleted);
      await buildManifest(stores.store, userId);
    } catch (e) {
      log.warn('index not rebuilt; run "rk-sync export" to retry', {
        error: e instanceof Error ? e.message : String(e),
      });
      continue;
    }
    await refreshLocalReport(stores.store, userId, log);
  }
}
