/**
 * The combined index in AWS: the fetcher writes one row per activity
 * (index/{userId}/rows/{id}.json); the scheduler assembles activities.csv, activities.ndjson
 * and manifest.json from them, at most once per `rebuildMs` and only when a run enqueued or
 * deleted something since the last build. An idle run reads the account once and writes
 * nothing (no S3 request, no API call).
 *
 * Crash safety: the flag is persisted before a build starts and cleared only by a build that
 * completed, so a crash during the build (or a full disk) leaves it owed to a later run.
 *
 * Freshness: the flag set by a run that enqueued work is cleared by a build only when no
 * fetch is still in flight (no ENQUEUED item), so the build after the last fetch lands
 * shows it; PENDING items re-mark the flag when a later run enqueues them.
 *
 * The HTML report (report/{userId}/index.html) is rebuilt with the index once no fetch is in
 * flight: it reads every raw document, so during a backfill (always in flight) it waits for the
 * queue to drain, while the index shows progress hourly. A report that fails to build is logged
 * and leaves the index build standing.
 */
import type { Clock } from '../clock.ts';
import { describeError } from '../errors.ts';
import { buildIndex, buildManifest } from '../export/derive.ts';
import type { Account, AccountStore, Ledger, Log, ObjectStore } from '../ports.ts';
import { buildReport } from '../report/build.ts';
import type { RunSummary } from './scheduler.ts';

export const INDEX_REBUILD_MS = 3_600_000;

export interface IndexRefreshDeps {
  accounts: AccountStore;
  ledger: Pick<Ledger, 'list'>;
  store: ObjectStore;
  clock: Clock;
  log: Log;
}

export type IndexRefresh =
  | { outcome: 'clean' | 'waiting' | 'skipped' }
  | { outcome: 'built'; rows: number; files: number; ms: number; reportBytes?: number };

async function patchAccount(
  accounts: AccountStore,
  userId: string,
  patch: Partial<Pick<Account, 'indexBuiltAt' | 'indexDirtyAt'>>,
): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const cur = await accounts.get(userId);
    if (!cur) return;
    if (await accounts.save({ ...cur, ...patch })) return;
  }
}

export async function refreshIndex(
  deps: IndexRefreshDeps,
  userId: string,
  run: Pick<RunSummary, 'outcome' | 'enqueued' | 'deleted'>,
  rebuildMs = INDEX_REBUILD_MS,
): Promise<IndexRefresh> {
  if (run.outcome === 'revoked' || run.outcome === 'skipped') return { outcome: 'skipped' };
  const account = await deps.accounts.get(userId);
  if (account?.status !== 'ACTIVE') return { outcome: 'skipped' };
  const now = deps.clock.now();
  const changed = run.enqueued > 0 || run.deleted > 0;
  const dirtyAt = account.indexDirtyAt ?? (changed ? now : undefined);
  if (dirtyAt === undefined) return { outcome: 'clean' };
  if (now - (account.indexBuiltAt ?? 0) < rebuildMs) {
    if (account.indexDirtyAt === undefined) {
      await patchAccount(deps.accounts, userId, { indexDirtyAt: dirtyAt });
    }
    return { outcome: 'waiting' };
  }
  // Owed before the work: a crash during the build leaves the flag set, so a later run builds.
  if (account.indexDirtyAt === undefined) {
    await patchAccount(deps.accounts, userId, { indexDirtyAt: dirtyAt });
  }
  const t0 = Date.now();
  const items = await deps.ledger.list(userId);
  const deletedIds = new Set(
    items
      .filter((it) => it.feed === 'fitnessActivities' && it.status === 'DELETED')
      .map((it) => it.id),
  );
  const inFlight = items.some((it) => it.status === 'ENQUEUED');
  const { rows } = await buildIndex(deps.store, userId, deletedIds);
  const { files } = await buildManifest(deps.store, userId);
  // Recorded before the report: a slow report never makes the next run rebuild the index.
  await patchAccount(deps.accounts, userId, {
    indexBuiltAt: now,
    indexDirtyAt: inFlight ? now : undefined,
  });
  let reportBytes: number | undefined;
  if (!inFlight)
    try {
      reportBytes = (await buildReport(deps.store, userId, { now: new Date(now).toISOString() }))
        .bytes;
    } catch (e) {
      deps.log.warn('report not rebuilt', { userId, error: describeError(e) });
    }
  const ms = Date.now() - t0;
  deps.log.info('index rebuilt', { userId, rows, files, ms, inFlight, reportBytes });
  return {
    outcome: 'built',
    rows,
    files,
    ms,
    ...(reportBytes === undefined ? {} : { reportBytes }),
  };
}
