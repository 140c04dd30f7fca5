import {
  BudgetExhaustedError,
  describeError,
  ForbiddenError,
  InvalidPayloadError,
  NotFoundError,
  RateLimitedError,
  RevokedError,
  UnauthorizedError,
} from '../errors.ts';
import { sha256Hex } from '../hash.ts';
import type { FetchedDoc, HealthGraphClient } from '../healthgraph/client.ts';
import type { Media } from '../healthgraph/media.ts';
import { commentsKey, type ItemRef, rawKey } from '../keys.ts';
import type { FetchMessage } from '../ports.ts';
import type { SyncConfig } from './config.ts';
import { markRevoked, type SchedulerDeps } from './scheduler.ts';

export type FetchOutcome =
  | 'synced'
  | 'unchanged'
  | 'duplicate'
  | 'skipped'
  | 'deferred'
  | 'deleted'
  | 'failed'
  | 'parked'
  | 'live';

/** A zeroed counter per outcome (progress reports, simulations). */
export function emptyOutcomes(): Record<FetchOutcome | 'error', number> {
  return {
    synced: 0,
    unchanged: 0,
    duplicate: 0,
    skipped: 0,
    deferred: 0,
    deleted: 0,
    failed: 0,
    parked: 0,
    live: 0,
    error: 0,
  };
}

export interface FetcherDeps extends SchedulerDeps {
  /** Downloads an activity photo (content host, no token, no API budget). */
  media?: (url: string) => Promise<Media>;
  /** Derived formats, images, index: called after the raw document is stored. */
  onStored?: (userId: string, ref: ItemRef, doc: FetchedDoc) => Promise<void>;
}

/** Test hook: lets fault-injection tests crash between the steps. */
export type CrashPoint = 'after-fetch' | 'after-put' | 'after-mark';

export async function handleFetch(
  deps: FetcherDeps,
  cfg: SyncConfig,
  msg: FetchMessage,
  crash?: (p: CrashPoint) => void,
): Promise<FetchOutcome> {
  const { userId, feed, id } = msg;
  const ref: ItemRef = { feed, id };
  const item = await deps.ledger.get(userId, feed, id);
  if (!item || item.status === 'DELETED' || item.status === 'FAILED') return 'skipped';
  if (item.syncedRev >= msg.rev && item.syncedRev >= item.wantRev) return 'duplicate';
  const account = await deps.accounts.get(userId);
  if (account?.status !== 'ACTIVE') return 'parked';
  const token = await deps.tokens.get(userId);
  if (!token) return 'parked';
  // The document fetched now is at least as new as every change recorded so far.
  const rev = Math.max(msg.rev, item.wantRev);
  const client = deps.api(token, userId);

  let doc: FetchedDoc;
  try {
    doc = await client.getItem(ref);
  } catch (e) {
    // Interrupted (Ctrl-C, shutdown): the item did not fail, it was never answered. No attempt
    // is spent and no error recorded; the next run fetches it like any pending item.
    if (deps.signal?.aborted) throw e;
    if (e instanceof BudgetExhaustedError || e instanceof RateLimitedError) {
      await defer(deps, msg, e.waitUntil);
      return 'deferred';
    }
    if (e instanceof NotFoundError) {
      await deps.ledger.markDeleted(userId, feed, id, deps.clock.now());
      return 'deleted';
    }
    if (e instanceof RevokedError) {
      await markRevoked(deps, account);
      return 'parked';
    }
    if (e instanceof UnauthorizedError || e instanceof ForbiddenError) {
      // One item refused is no proof the account is gone: ask /user before parking it.
      const verdict = await confirmRefusal(deps, client, msg);
      if (verdict === 'revoked') {
        await markRevoked(deps, account);
        return 'parked';
      }
      if (verdict === 'deferred') return 'deferred';
    }
    if (
      e instanceof UnauthorizedError ||
      e instanceof ForbiddenError ||
      e instanceof InvalidPayloadError
    ) {
      deps.log.warn(
        e instanceof InvalidPayloadError
          ? 'invalid payload recorded as a permanent failure'
          : 'one item is refused while the account works; recorded as failed',
        { feed, id, reason: e.message },
      );
      await deps.ledger.markFailed(
        userId,
        feed,
        id,
        { reason: describeError(e), permanent: true },
        deps.clock.now(),
      );
      return 'failed';
    }
    // Transient: record the attempt for `status`, then let the queue retry (DLQ after maxReceiveCount).
    await deps.ledger.markFailed(
      userId,
      feed,
      id,
      {
        reason: describeError(e),
        permanent: false,
        // The queue redelivers on its own; the scheduler re-picks the item only after a backoff
        // that grows with each failure (1 min × 2^attempts, at most 6 h), so a persistently
        // failing item never keeps a sync busy.
        notBefore:
          deps.clock.now() +
          Math.max(cfg.leaseMs, Math.min(6 * 3_600_000, 60_000 * 2 ** item.attempts)),
      },
      deps.clock.now(),
    );
    throw e;
  }
  crash?.('after-fetch');

  const owner = doc.json.userID;
  if (owner !== undefined && String(owner) !== userId) {
    await deps.ledger.markFailed(
      userId,
      feed,
      id,
      { reason: 'Invalid: document belongs to another user', permanent: true },
      deps.clock.now(),
    );
    return 'failed';
  }

  const key = rawKey(userId, ref);
  const bytes = new TextEncoder().encode(doc.text);
  const hash = sha256Hex(bytes);
  // A concurrent delivery may have stored a newer revision while we fetched: never write over it.
  const latest = await deps.ledger.get(userId, feed, id);
  if (!latest || latest.status === 'DELETED' || latest.syncedRev >= rev) return 'duplicate';
  const put = await deps.store.put(key, bytes, 'application/json');
  crash?.('after-put');

  if (doc.json.is_live === true || doc.json.is_live === 'true') {
    // Still being recorded: keep what we have, and fetch it again later.
    await deps.ledger.markFailed(
      userId,
      feed,
      id,
      {
        reason: 'activity is still being recorded (is_live); stored, will be fetched again',
        permanent: false,
        // Revisit with a growing interval (30 min, 1 h, 2 h, … ≤ 24 h): a live session normally
        // ends soon, and one that never does must not eat the budget.
        notBefore: deps.clock.now() + Math.min(86_400_000, cfg.liveRetryMs * 2 ** item.attempts),
      },
      deps.clock.now(),
    );
    return 'live';
  }

  if (cfg.comments && feed === 'fitnessActivities' && typeof doc.json.comments === 'string') {
    try {
      const thread = await client.getComments(id);
      await deps.store.put(
        commentsKey(userId, id),
        new TextEncoder().encode(thread.text),
        'application/json',
      );
    } catch (e) {
      if (e instanceof BudgetExhaustedError || e instanceof RateLimitedError) {
        // The activity is stored; come back for its comments at the next free slot.
        const delay = Math.min(
          900,
          Math.max(1, Math.ceil((e.waitUntil - deps.clock.now()) / 1000)),
        );
        await deps.queue.send([
          { body: { ...msg, deferrals: (msg.deferrals ?? 0) + 1 }, delaySeconds: delay },
        ]);
        return 'deferred';
      }
      // A missing or odd thread is secondary: the activity itself is stored; record and move on.
      deps.log.warn('comment thread not stored', { id, error: describeError(e) });
    }
  }
  if (cfg.images && deps.media && feed === 'fitnessActivities' && Array.isArray(doc.json.images)) {
    await storeImages(deps, userId, id, doc.json.images);
  }
  await deps.onStored?.(userId, ref, doc);

  const marked = await deps.ledger.markSynced(
    userId,
    feed,
    id,
    { rev, contentHash: hash, key, versionId: put.versionId },
    deps.clock.now(),
  );
  crash?.('after-mark');
  if (!marked) await healStaleWrite(deps, userId, ref, key);
  return put.written ? 'synced' : 'unchanged';
}

/** media/{userId}/fitnessActivities/{id}/{n}.{ext} and {n}.thumb.{ext}; already stored ones are skipped. */
async function storeImages(
  deps: FetcherDeps,
  userId: string,
  id: string,
  images: unknown[],
): Promise<void> {
  const prefix = `media/${userId}/fitnessActivities/${id}/`;
  const have = new Set<string>();
  for await (const k of deps.store.list(prefix))
    have.add(k.slice(prefix.length).replace(/\.[a-z0-9]+$/, ''));
  for (const [n, img] of images.slice(0, 200).entries()) {
    const entry = img as { uri?: unknown; thumbnail_uri?: unknown } | null;
    for (const [suffix, url] of [
      ['', entry?.uri],
      ['.thumb', entry?.thumbnail_uri],
    ] as const) {
      if (typeof url !== 'string' || have.has(`${n}${suffix}`)) continue;
      try {
        const m = await deps.media!(url);
        await deps.store.put(`${prefix}${n}${suffix}.${m.ext}`, m.bytes, m.contentType);
      } catch (e) {
        deps.log.warn('activity photo not stored', { id, image: n, error: describeError(e) });
      }
    }
  }
}

/**
 * Our write lost a race: a concurrent delivery marked a newer revision between our check and
 * our write. If the stored bytes are no longer the ones the ledger records, fetch again (the
 * newer bytes also survive as an earlier S3 version / local history file).
 */
async function healStaleWrite(
  deps: FetcherDeps,
  userId: string,
  ref: ItemRef,
  key: string,
): Promise<void> {
  const cur = await deps.ledger.get(userId, ref.feed, ref.id);
  if (cur?.status !== 'SYNCED' || !cur.contentHash) return;
  if ((await deps.store.hash(key)) === cur.contentHash) return;
  deps.log.warn('a concurrent delivery stored a newer revision; fetching the item again', {
    id: ref.id,
  });
  await deps.ledger.observe(
    userId,
    [
      {
        feed: ref.feed,
        id: ref.id,
        summaryHash: cur.summaryHash ?? '',
        startTime: cur.startTime,
        force: true,
      },
    ],
    deps.clock.now(),
  );
}

/**
 * An item answered 401/403: does the token still work? `/user` (one budgeted call) decides.
 * Refused there too → the account is revoked. No budget now → the message comes back later.
 * A transient failure is thrown (the queue retries the whole message).
 */
async function confirmRefusal(
  deps: FetcherDeps,
  client: HealthGraphClient,
  msg: FetchMessage,
): Promise<'revoked' | 'item-only' | 'deferred'> {
  try {
    await client.getUser();
    return 'item-only';
  } catch (e) {
    if (e instanceof RevokedError || e instanceof UnauthorizedError || e instanceof ForbiddenError)
      return 'revoked';
    if (e instanceof BudgetExhaustedError || e instanceof RateLimitedError) {
      await defer(deps, msg, e.waitUntil);
      return 'deferred';
    }
    throw e;
  }
}

/** No budget now: the message re-sends itself with the delay until a slot frees (≤ 900 s). */
async function defer(deps: FetcherDeps, msg: FetchMessage, waitUntil: number): Promise<void> {
  const delay = Math.min(900, Math.max(1, Math.ceil((waitUntil - deps.clock.now()) / 1000)));
  await deps.queue.send([
    { body: { ...msg, deferrals: (msg.deferrals ?? 0) + 1 }, delaySeconds: delay },
  ]);
}
