/** `rk-sync status`: what is stored, pending and failed, the budget, cursors and the last run. */
import { budgetKey } from '../functions/core/budget.ts';
import type { Clock } from '../functions/core/clock.ts';
import type { FeedCursor, LedgerCounts } from '../functions/core/ports.ts';
import { type ArchiveSummary, allUsers, archiveSummary } from './archive.ts';
import { budgetConfig, budgetFor, type LocalStores } from './local.ts';
import { syncLockHolder } from './lock.ts';
import { formatDuration } from './progress.ts';
import { type Failure, isStillRecording, listFailures, pendingWhy } from './sync.ts';

export interface StatusReport {
  dataDir: string;
  /** What the archive holds per user, linked or not (a ZIP-only user has no account). */
  archive?: ArchiveSummary[];
  accounts: {
    userId: string;
    status: string;
    linkedAt: string;
    counts: {
      synced: number;
      pending: number;
      enqueued: number;
      failed: number;
      deleted: number;
      /** Of pending: stored while still being recorded, fetched again later. */
      stillRecording: number;
    };
    failures: Failure[];
    budget: {
      limit: number;
      windowSeconds: number;
      capacity: number;
      used: number;
      available: number;
      nextSlotAt: string;
    };
    cursors: Record<string, FeedCursor>;
    watermark?: string | undefined;
    lastSchedulerRunAt?: string | undefined;
    lastSchedulerRun?: Record<string, number | string> | undefined;
  }[];
  lastRun?:
    | {
        command: string;
        startedAt: string;
        finishedAt?: string | undefined;
        outcome: string;
        summary?: unknown;
      }
    | undefined;
  /** A sync holding the data directory's lock right now. */
  running?: { pid: number; since: string } | undefined;
  /** The data directory is read-only: shown as of the database's last checkpoint. */
  readOnly?: boolean | undefined;
}

const iso = (t: number | undefined) => (t ? new Date(t).toISOString() : undefined);

export async function statusReport(
  stores: LocalStores,
  clock: Clock,
  rate: { limit: number; windowSeconds: number },
): Promise<StatusReport> {
  const budget = budgetFor(stores.db, budgetConfig(rate.limit, rate.windowSeconds));
  const report: StatusReport = { dataDir: stores.dataDir, accounts: [], archive: [] };
  for (const userId of await allUsers(stores)) {
    report.archive!.push(await archiveSummary(stores.store, userId));
  }
  for (const a of await stores.accounts.list()) {
    const c: LedgerCounts = await stores.ledger.counts(a.userId);
    const failures = await listFailures(stores, [a.userId]);
    const v = await budget.inspect(budgetKey(a.userId), clock.now());
    report.accounts.push({
      userId: a.userId,
      status: a.status,
      linkedAt: iso(a.linkedAt) ?? '',
      counts: {
        synced: c.SYNCED,
        pending: c.PENDING,
        enqueued: c.ENQUEUED,
        failed: failures.length,
        deleted: c.DELETED,
        stillRecording: (await stores.ledger.list(a.userId, 'PENDING')).filter(isStillRecording)
          .length,
      },
      failures,
      budget: {
        limit: v.limit,
        windowSeconds: v.windowMs / 1000,
        capacity: v.capacity,
        used: v.used,
        available: v.available,
        nextSlotAt: new Date(v.nextSlotAt).toISOString(),
      },
      cursors: a.cursors as Record<string, FeedCursor>,
      watermark: iso(a.watermark),
      lastSchedulerRunAt: iso(a.lastRunAt),
      lastSchedulerRun: a.lastRun,
    });
  }
  const run = stores.db.db
    .prepare(
      'SELECT command, started_at, finished_at, outcome, summary FROM runs ORDER BY id DESC LIMIT 1',
    )
    .get();
  const holder = syncLockHolder(stores.db);
  if (holder) report.running = { pid: holder.pid, since: iso(holder.since) ?? '' };
  if (stores.db.readOnly) report.readOnly = true;
  if (run) {
    report.lastRun = {
      command: String(run.command),
      startedAt: iso(Number(run.started_at)) ?? '',
      finishedAt: run.finished_at === null ? undefined : iso(Number(run.finished_at)),
      outcome:
        run.outcome !== null
          ? String(run.outcome)
          : holder
            ? `running (pid ${holder.pid}, since ${iso(holder.since)})`
            : 'did not finish (killed or crashed)',
      summary: run.summary === null ? undefined : JSON.parse(String(run.summary)),
    };
  }
  return report;
}

export function describeStatus(r: StatusReport, now: number): string {
  const out: string[] = [
    `Data directory: ${r.dataDir}${r.readOnly ? ' (read-only: shown as of its last checkpoint)' : ''}`,
  ];
  for (const a of r.archive ?? []) {
    const s = a.bySource;
    out.push(
      a.indexed
        ? `Archive of user ${a.userId}: ${a.activities} activities (${s.api} from the API, ${s.zip} from an export ZIP, ${s['api+zip']} from both)`
        : `Archive of user ${a.userId}: not indexed yet (run "rk-sync export")`,
    );
  }
  if (r.accounts.length === 0) {
    out.push(
      (r.archive ?? []).length > 0
        ? 'No account linked: an archive-only data directory (export, verify and import work; "rk-sync auth" links one for sync).'
        : 'No account linked yet: run "rk-sync auth".',
    );
  }
  for (const a of r.accounts) {
    const c = a.counts;
    out.push(`Account ${a.userId} (${a.status}, linked ${a.linkedAt})`);
    out.push(
      `  synced ${c.synced} · pending ${c.pending}${pendingWhy({ unlisted: 0, stillRecording: c.stillRecording })} · enqueued ${c.enqueued} · failed ${c.failed} · deleted upstream ${c.deleted}`,
    );
    const next = Date.parse(a.budget.nextSlotAt);
    out.push(
      `  budget: ${a.budget.used}/${a.budget.capacity} calls used in the last ${formatDuration(a.budget.windowSeconds * 1000)} (API limit ${a.budget.limit}), ${a.budget.available} available, next slot ${next <= now ? 'now' : `in ${formatDuration(next - now)}`}`,
    );
    for (const [feed, cur] of Object.entries(a.cursors)) {
      out.push(
        `  ${feed}: ${cur.done ? 'listing complete' : `listing in progress (next page ${cur.next ?? '-'})`}, ${cur.seen}${cur.size !== undefined ? `/${cur.size}` : ''} items seen, ${cur.passes} pass(es)`,
      );
    }
    if (a.watermark) out.push(`  changes known up to ${a.watermark}`);
    if (a.lastSchedulerRunAt) {
      const lr = a.lastSchedulerRun ?? {};
      out.push(
        `  last planning run ${a.lastSchedulerRunAt}: ${lr.apiCalls ?? 0} API calls, ${lr.enqueued ?? 0} enqueued, ${lr.discovered ?? 0} discovered, ${lr.changed ?? 0} changed, ${lr.deleted ?? 0} deleted`,
      );
    }
    for (const f of a.failures.slice(0, 20)) {
      out.push(`  ${f.status === 'FAILED' ? 'failed' : 'retrying'} ${f.feed}/${f.id}: ${f.reason}`);
    }
    if (a.failures.length > 20) out.push(`  … ${a.failures.length - 20} more (--json lists all)`);
  }
  if (r.lastRun) {
    out.push(
      `Last ${r.lastRun.command}: started ${r.lastRun.startedAt}, ${r.lastRun.finishedAt ? `finished ${r.lastRun.finishedAt} (${r.lastRun.outcome})` : r.lastRun.outcome}`,
    );
  } else {
    out.push('No sync has run yet.');
  }
  return out.join('\n');
}
