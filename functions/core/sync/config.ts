import type { FeedName } from '../keys.ts';

export interface SyncConfig {
  /** Feeds to back up (default: fitness activities; `--feeds all` adds the rest). */
  feeds: FeedName[];
  /** Items per feed page (only 25 is documented; larger values work and save calls). */
  pageSize: number;
  /** How often the scheduler runs (one budget window by default). */
  periodMs: number;
  /** An ENQUEUED item older than this is treated as a lost message and re-enqueued. */
  leaseMs: number;
  /** The change-log query starts this long before the last watermark (clock skew). */
  changeLogOverlapMs: number;
  /** At most this many messages per run (SQS DelaySeconds ≤ 900 s). */
  maxEnqueuePerRun: number;
  /**
   * Minimum spacing between planned calls. 0 by default: slots free now are spent at once,
   * later ones exactly when the sliding window frees them (the fastest the limit allows).
   */
  spacingMs: number;
  /** Refresh the /user resource map and the singleton documents after this long. */
  refreshDocsMs: number;
  /** A live (still recording) activity is retried after this long. */
  liveRetryMs: number;
  /** Re-list a feed that reported more items than we hold, at most this many passes. */
  maxListingPasses: number;
  /** Also store each activity's comment thread (one extra call per activity with comments). */
  comments: boolean;
  /** Also store each activity's photos and thumbnails (content host; no API calls). */
  images: boolean;
  /** Leave the next scheduled run its own calls (true when runs are periodic, as on AWS). */
  reserveForNextRun: boolean;
  /** Store profile, settings and records (three calls at link time, then every refreshDocsMs). */
  docs: boolean;
  /**
   * Skip the change-log query in this run (the local driver queries it once per period: its
   * runs follow each other as soon as the queue drains, and every query re-reports the
   * changes inside the overlap, which would re-fetch a just-edited item in a loop).
   */
  skipChangeDetection?: boolean | undefined;
  /** AWS: assemble the combined index at most this often (default one hour). */
  indexRebuildMs?: number | undefined;
}

export const FEEDS_FETCHED_ONE_BY_ONE: readonly FeedName[] = [
  'fitnessActivities',
  'strengthTrainingActivities',
];

export function defaultSyncConfig(
  budget: { limit: number; windowMs: number },
  over: Partial<SyncConfig> = {},
): SyncConfig {
  const periodMs = over.periodMs ?? budget.windowMs;
  return {
    feeds: ['fitnessActivities'],
    pageSize: 100,
    periodMs,
    leaseMs: 2 * periodMs,
    changeLogOverlapMs: 120_000,
    maxEnqueuePerRun: 100,
    spacingMs: 0,
    refreshDocsMs: 7 * 86_400_000,
    liveRetryMs: 30 * 60_000,
    maxListingPasses: 3,
    comments: false,
    images: true,
    docs: false,
    reserveForNextRun: true,
    ...over,
  };
}
