/**
 * One scheduler run for one linked account (design: docs/ARCHITECTURE.md "One run").
 *  1. change detection, cheapest first: the change log since the watermark (one call);
 *  2. backfill: list further feed pages from the persisted cursor, but only while the
 *     ledger holds less work than this window can fetch;
 *  3. enqueue what the budget allows this period, each message delayed to its own budget
 *     slot (window ÷ limit apart), so the consumer never waits and is never throttled;
 *  4. persist the cursor after every page, the watermark at the end.
 * Every step is idempotent: a crash anywhere is healed by the next run.
 */
import { budgetKey } from '../budget.ts';
import {
  BudgetExhaustedError,
  describeError,
  ForbiddenError,
  RateLimitedError,
  RevokedError,
  TransientError,
  UnauthorizedError,
  UnreachableError,
} from '../errors.ts';
import { sha256Hex } from '../hash.ts';
import type { HealthGraphClient } from '../healthgraph/client.ts';
import { DOCS, docKey, FEEDS, type FeedName } from '../keys.ts';
import type { Account, FeedCursor, SyncDeps } from '../ports.ts';
import { storageFault } from '../storage-fault.ts';
import type { SyncConfig } from './config.ts';
import { plannedSlots } from './slots.ts';

export interface SchedulerDeps extends SyncDeps {
  api: (token: string, userId: string) => HealthGraphClient;
  /** Publishes operational metrics (e.g. AccountRevoked). */
  metric?: (name: string, value: number) => void;
  /** The run's stop signal (Ctrl-C): a request it cuts short is no failure. */
  signal?: AbortSignal | undefined;
}

export interface RunSummary {
  userId: string;
  outcome: 'ok' | 'skipped' | 'revoked' | 'rate-limited' | 'budget' | 'error';
  apiCalls: number;
  pagesListed: number;
  discovered: number;
  changed: number;
  deleted: number;
  enqueued: number;
  backfillDone: boolean;
  error?: string;
  /** The API did not answer at all (refused, unknown host): retrying soon rarely helps. */
  unreachable?: boolean;
}

/** The change log serves at most 7 days per query (documented for the root resource). */
const CHANGE_LOG_WINDOW_MS = 7 * 86_400_000 - 3_600_000;

const FIELD_OF: Record<FeedName, string> = Object.fromEntries(
  Object.entries(FEEDS).map(([field, feed]) => [feed, field]),
) as Record<FeedName, string>;

export async function markRevoked(deps: SchedulerDeps, account: Account): Promise<void> {
  const now = deps.clock.now();
  for (let i = 0; i < 5; i++) {
    const cur = i === 0 ? account : await deps.accounts.get(account.userId);
    if (!cur || cur.status === 'REVOKED') return;
    if (await deps.accounts.save({ ...cur, status: 'REVOKED', revokedAt: now })) {
      deps.log.warn('account access was revoked; all calls for it stop', { userId: cur.userId });
      deps.metric?.('AccountRevoked', 1);
      return;
    }
  }
}

export async function runScheduler(
  deps: SchedulerDeps,
  cfg: SyncConfig,
  userId: string,
): Promise<RunSummary> {
  const s: RunSummary = {
    userId,
    outcome: 'ok',
    apiCalls: 0,
    pagesListed: 0,
    discovered: 0,
    changed: 0,
    deleted: 0,
    enqueued: 0,
    backfillDone: false,
  };
  let account = await deps.accounts.get(userId);
  if (account?.status !== 'ACTIVE') return { ...s, outcome: 'skipped' };
  const token = await deps.tokens.get(userId);
  if (!token) return { ...s, outcome: 'skipped', error: 'no token stored' };
  const bkey = budgetKey(userId);
  const client = deps.api(token, userId);
  const runStart = deps.clock.now();

  const save = async (patch: Partial<Account>): Promise<void> => {
    const next = { ...account!, ...patch };
    if (await deps.accounts.save(next)) {
      account = { ...next, version: next.version + 1 };
      return;
    }
    // Somebody else wrote (a concurrent run or a revocation): reload and apply the patch once more.
    const fresh = await deps.accounts.get(userId);
    if (!fresh) return;
    const merged = { ...fresh, ...patch, status: fresh.status };
    if (await deps.accounts.save(merged)) account = { ...merged, version: merged.version + 1 };
  };

  // Detection and listing stop when the budget has no call left right now (or after a 429);
  // the run still enqueues fetches for the budget's future slots.
  let slots: number[] = [];
  let picks: { feed: FeedName; id: string; wantRev: number }[] = [];
  let newWatermark: number | undefined;
  let pagesPlanned = 0;
  try {
    try {
      // 1. Discovery refresh and singleton documents (rare).
      if (
        Object.keys(account.resources).length === 0 ||
        runStart - account.discoveredAt > cfg.refreshDocsMs
      ) {
        const user = await client.getUser();
        await save({ resources: user.resources, discoveredAt: deps.clock.now() });
      }
      if (cfg.docs && runStart - (account.docsFetchedAt ?? 0) > cfg.refreshDocsMs) {
        await storeDocs(deps, client, account, userId);
        await save({ docsFetchedAt: deps.clock.now() });
      }

      // Start any feed that has no cursor yet; the watermark starts before the first listing.
      const cursors = { ...account.cursors };
      let started = false;
      for (const feed of cfg.feeds) {
        const path = account.resources[FIELD_OF[feed]];
        if (!cursors[feed] && path) {
          cursors[feed] = {
            next: client.firstPage(path, { pageSize: cfg.pageSize }),
            done: false,
            seen: 0,
            passes: 0,
            startedAt: runStart,
          };
          started = true;
        }
      }
      if (started) await save({ cursors, watermark: account.watermark ?? runStart });

      // 2. Change detection since the watermark. Not while a backfill lists: the watermark
      // stays at the backfill's start, so the first query after it covers the whole backfill
      // and no window spends a call the backfill does not need.
      const changeLog = account.resources.change_log;
      if (
        account.watermark !== undefined &&
        !started &&
        !cfg.skipChangeDetection &&
        !backfillPending(cfg, account)
      ) {
        const since = account.watermark - cfg.changeLogOverlapMs;
        if (changeLog) {
          // The change log answers at most 7 days per query: walk forward in windows after a long gap.
          const end = deps.clock.now();
          let from = since;
          for (let w = 0; w < 12; w++) {
            const until = Math.min(end, from + CHANGE_LOG_WINDOW_MS);
            const changes = await client.getChangeLog(
              changeLog,
              from,
              until < end ? until : undefined,
            );
            const wanted = changes.modified.filter((m) => cfg.feeds.includes(m.ref.feed));
            if (wanted.length > 0) {
              const r = await deps.ledger.observe(
                userId,
                wanted.map((m) => ({
                  feed: m.ref.feed,
                  id: m.ref.id,
                  summaryHash: sha256Hex(JSON.stringify(m.raw)),
                  startTime: m.startTime,
                  force: true,
                })),
                end,
              );
              s.discovered += r.added;
              s.changed += r.changed;
            }
            for (const d of changes.deleted) {
              if (
                cfg.feeds.includes(d.feed) &&
                (await deps.ledger.markDeleted(userId, d.feed, d.id, end))
              ) {
                s.deleted++;
              }
            }
            newWatermark = until;
            if (until >= end) break;
            await save({ watermark: until });
            from = until - cfg.changeLogOverlapMs;
          }
        } else {
          // No change log: the feeds' modified-since filter (date granularity, one day overlap).
          const day = new Date(since - 86_400_000).toISOString().slice(0, 10);
          const queryAt = deps.clock.now();
          for (const feed of cfg.feeds) {
            const path = account.resources[FIELD_OF[feed]];
            if (!path || !account.cursors[feed]?.done) continue;
            for await (const page of client.pages(
              feed,
              path,
              client.firstPage(path, { pageSize: cfg.pageSize, modifiedNoEarlierThan: day }),
            )) {
              s.pagesListed++;
              const r = await observePage(deps, userId, page.items, queryAt);
              s.discovered += r.added;
              s.changed += r.changed;
            }
          }
          newWatermark = queryAt;
        }
      }

      // 3. Backfill pages only while the ledger holds less work than this period can fetch.
      slots = await plannedSlots(deps, cfg, account, bkey);
      pagesPlanned = s.pagesListed;
      picks = await deps.ledger.pick(userId, deps.clock.now(), slots.length, cfg.leaseMs);
      for (let guard = 0; guard < 1000 && picks.length < slots.length; guard++) {
        const feed = cfg.feeds.find((f) => account!.cursors[f] && !account!.cursors[f]!.done);
        if (!feed) break;
        const cursor = account.cursors[feed]!;
        const path = account.resources[FIELD_OF[feed]];
        if (!path || !cursor.next) {
          await save({ cursors: { ...account.cursors, [feed]: { ...cursor, done: true } } });
          continue;
        }
        const page = await client.listPage(feed, path, cursor.next);
        s.pagesListed++;
        const r = await observePage(deps, userId, page.items, deps.clock.now());
        s.discovered += r.added;
        s.changed += r.changed;
        let next: FeedCursor = {
          ...cursor,
          next: page.next ?? null,
          done: page.next === undefined,
          size: page.size ?? cursor.size,
          seen: cursor.seen + page.items.length,
        };
        if (next.done) next = await reconcile(deps, cfg, client, userId, feed, path, next);
        await save({ cursors: { ...account.cursors, [feed]: next } });
        picks = await deps.ledger.pick(userId, deps.clock.now(), slots.length, cfg.leaseMs);
      }
    } catch (e) {
      if (!(e instanceof BudgetExhaustedError || e instanceof RateLimitedError)) throw e;
      s.outcome = e instanceof RateLimitedError ? 'rate-limited' : 'budget';
      s.error = describeError(e);
      slots = await plannedSlots(deps, cfg, account, bkey);
      pagesPlanned = s.pagesListed;
      picks = await deps.ledger.pick(userId, deps.clock.now(), slots.length, cfg.leaseMs);
    }

    // Pages listed above spent calls too: plan again so the next run keeps its reserve.
    if (s.pagesListed > pagesPlanned) {
      slots = await plannedSlots(deps, cfg, account, bkey);
      picks = picks.slice(0, slots.length);
    }

    // 4. Enqueue, one budget slot per message.
    s.enqueued = await enqueue(deps, userId, picks, slots, cfg.leaseMs);
    s.backfillDone = cfg.feeds.every(
      (f) => !account!.resources[FIELD_OF[f]] || account!.cursors[f]?.done,
    );
    const lastDue = slots[picks.length - 1];
    await save({
      ...(newWatermark !== undefined ? { watermark: newWatermark } : {}),
      lastRunAt: runStart,
      lastRun: {
        apiCalls: client.calls,
        enqueued: s.enqueued,
        discovered: s.discovered,
        changed: s.changed,
        deleted: s.deleted,
        ...(lastDue !== undefined ? { lastDueAt: lastDue } : {}),
      },
    });
  } catch (e) {
    // A full or read-only disk is no run error to retry: the caller stops the sync.
    if (storageFault(e) || deps.signal?.aborted) throw e;
    s.error = describeError(e);
    if (
      e instanceof RevokedError ||
      e instanceof UnauthorizedError ||
      e instanceof ForbiddenError
    ) {
      await markRevoked(deps, account);
      s.outcome = 'revoked';
    } else if (e instanceof RateLimitedError) {
      s.outcome = 'rate-limited';
    } else if (e instanceof BudgetExhaustedError) {
      s.outcome = 'budget';
    } else if (e instanceof TransientError) {
      s.outcome = 'error';
      if (e instanceof UnreachableError) s.unreachable = true;
      deps.log.warn('scheduler run stopped on a transient error; the next run continues', {
        error: s.error,
      });
    } else {
      s.outcome = 'error';
      deps.log.error('scheduler run failed', { error: s.error });
    }
  }
  s.apiCalls = client.calls;
  return s;
}

async function observePage(
  deps: SchedulerDeps,
  userId: string,
  items: {
    ref: { feed: FeedName; id: string } | undefined;
    summaryHashSource: string;
    startTime?: string | undefined;
  }[],
  now: number,
) {
  const obs = items.flatMap((it) =>
    it.ref
      ? [
          {
            feed: it.ref.feed,
            id: it.ref.id,
            summaryHash: sha256Hex(it.summaryHashSource),
            startTime: it.startTime,
          },
        ]
      : [],
  );
  // Pages can shift while we page (new activities push items down): dedupe by id.
  const unique = [...new Map(obs.map((o) => [`${o.feed}/${o.id}`, o])).values()];
  return deps.ledger.observe(userId, unique, now);
}

/** At the end of a listing pass, compare what we hold with the feed's `size`. */
async function reconcile(
  deps: SchedulerDeps,
  cfg: SyncConfig,
  client: HealthGraphClient,
  userId: string,
  feed: FeedName,
  path: string,
  cursor: FeedCursor,
): Promise<FeedCursor> {
  const passes = cursor.passes + 1;
  if (cursor.size === undefined) return { ...cursor, passes };
  const held = (await deps.ledger.list(userId)).filter(
    (it) => it.feed === feed && it.status !== 'DELETED',
  ).length;
  if (held < cursor.size && passes < cfg.maxListingPasses) {
    deps.log.warn('feed size and listed items disagree; listing the feed again', {
      feed,
      size: cursor.size,
      held,
    });
    return {
      next: client.firstPage(path, { pageSize: cfg.pageSize }),
      done: false,
      size: cursor.size,
      seen: 0,
      passes,
      startedAt: deps.clock.now(),
    };
  }
  return { ...cursor, passes };
}

function backfillPending(cfg: SyncConfig, account: Account): boolean {
  return cfg.feeds.some((f) => account.resources[FIELD_OF[f]] && !account.cursors[f]?.done);
}

async function enqueue(
  deps: SchedulerDeps,
  userId: string,
  picks: { feed: FeedName; id: string; wantRev: number }[],
  slots: number[],
  leaseMs: number,
): Promise<number> {
  const now = deps.clock.now();
  const batch = picks.map((p, i) => ({
    body: { userId, feed: p.feed, id: p.id, rev: p.wantRev },
    delaySeconds: Math.min(900, Math.max(0, Math.ceil((slots[i]! - now) / 1000))),
  }));
  // Send first, then mark: a crash in between leaves a message for an item still PENDING or
  // ENQUEUED-without-message; both heal (duplicate fetches are absorbed, leases expire).
  for (let i = 0; i < batch.length; i += 10) await deps.queue.send(batch.slice(i, i + 10));
  let n = 0;
  for (const p of picks) {
    if (await deps.ledger.markEnqueued(userId, p.feed, p.id, p.wantRev, now, leaseMs)) n++;
  }
  return n;
}

async function storeDocs(
  deps: SchedulerDeps,
  client: HealthGraphClient,
  account: Account,
  userId: string,
) {
  const media: Record<string, string> = {
    profile: 'Profile',
    settings: 'Settings',
    records: 'Records',
  };
  for (const doc of Object.values(DOCS)) {
    const path = account.resources[doc];
    if (!path) continue;
    const { text } = await client.getDocument(path, media[doc]!);
    await deps.store.put(docKey(userId, doc), new TextEncoder().encode(text), 'application/json');
  }
}
