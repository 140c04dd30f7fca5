/**
 * The single-item ledger transitions, written once: an adapter supplies `apply` (read the
 * item, run the pure transition, write the result back with its own compare-and-swap) plus
 * its queries, and inherits markDeleted / markEnqueued / markSynced / markFailed.
 */
import type { FeedName } from '../keys.ts';
import type {
  ItemStatus,
  Ledger,
  LedgerCounts,
  LedgerItem,
  ObservedItem,
  ObserveResult,
  SyncedUpdate,
} from '../ports.ts';
import { deleteItem, enqueueItem, failItem, syncItem } from './ledger-rules.ts';

export type Transition = (cur: LedgerItem | undefined) => LedgerItem | undefined;

export abstract class TransitionLedger implements Ledger {
  /** Applies `fn` to the stored item atomically; false when `fn` declined (no write). */
  protected abstract apply(
    userId: string,
    feed: FeedName,
    id: string,
    fn: Transition,
  ): Promise<boolean>;
  abstract get(userId: string, feed: FeedName, id: string): Promise<LedgerItem | undefined>;
  abstract observe(userId: string, items: ObservedItem[], now: number): Promise<ObserveResult>;
  abstract pick(userId: string, now: number, limit: number, leaseMs: number): Promise<LedgerItem[]>;
  abstract counts(userId: string): Promise<LedgerCounts>;
  abstract list(userId: string, status?: ItemStatus): Promise<LedgerItem[]>;

  markDeleted(userId: string, feed: FeedName, id: string, now: number): Promise<boolean> {
    return this.apply(userId, feed, id, (cur) => deleteItem(cur, now));
  }
  markEnqueued(
    userId: string,
    feed: FeedName,
    id: string,
    rev: number,
    now: number,
    leaseMs: number,
  ): Promise<boolean> {
    return this.apply(userId, feed, id, (cur) => enqueueItem(cur, rev, now, leaseMs));
  }
  markSynced(
    userId: string,
    feed: FeedName,
    id: string,
    u: SyncedUpdate,
    now: number,
  ): Promise<boolean> {
    return this.apply(userId, feed, id, (cur) => syncItem(cur, u, now));
  }
  async markFailed(
    userId: string,
    feed: FeedName,
    id: string,
    f: { reason: string; permanent: boolean; notBefore?: number | undefined },
    now: number,
  ): Promise<void> {
    await this.apply(userId, feed, id, (cur) => failItem(cur, f, now));
  }
}
