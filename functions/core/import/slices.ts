/**
 * An export ZIP imported in bounded slices (the importer Lambda, issue #14 §1): a ZIP of
 * 5,000 activities (1–2 GB) cannot be imported in one 15-minute invocation.
 *
 *   fanOutImport  (S3 event) pass 1 only: the central directory and cardioActivities.csv; cuts
 *                 pass 2 into slices of at most SLICE_ENTRIES entries / SLICE_BYTES bytes (and
 *                 SLICE_ROWS rows without GPX), records them as pending in a job item and sends
 *                 one message per pending slice.
 *   runSlice      (one message) recomputes the plan (deterministic), imports its slice and,
 *                 when the deadline is near, sends the rest of the slice as a new message
 *                 and stops. The slice that empties the job's pending set builds the index and
 *                 the manifest.
 *
 * Crash anywhere: a slice's message stays on the queue until the slice is done, so it runs
 * again; every write is deterministic and skipped when unchanged, and removing a slice from
 * the pending set is idempotent, so re-delivery (or a continuation sent twice) is harmless.
 * A re-delivered S3 event re-sends only the slices still pending; a finished job sends none.
 */

import { buildIndex, buildManifest } from '../export/derive.ts';
import { sha256Hex } from '../hash.ts';
import { assertUserId } from '../keys.ts';
import type { Log, ObjectStore } from '../ports.ts';
import { DEFAULT_ZIP_LIMITS, type ZipLimits } from './export-zip.ts';
import {
  emptyTally,
  planZip,
  type RunTally,
  ZipImportRun,
  type ZipPlan,
  type ZipSource,
} from './plan.ts';

export const SLICE_ENTRIES = 50;
export const SLICE_BYTES = 64 * 1024 ** 2;
export const SLICE_ROWS = 200;

/** One slice of pass 2: planned entries [from, to) or rows without GPX [from, to). */
export interface ImportSlice {
  n: number;
  kind: 'entries' | 'rows';
  from: number;
  to: number;
}

/** The queue message: which ZIP (key + ETag), whose, which slice. */
export interface SliceMessage extends ImportSlice {
  v: 1;
  key: string;
  etag: string;
  userId: string;
}

/** The job item: which slices are still pending (DynamoDB `IMPORT#{jobId}`). */
export interface ImportJobs {
  /** Records the job with these slices unless it exists; what is still pending, and if done. */
  begin(jobId: string, slices: number[]): Promise<{ pending: number[]; finished: boolean }>;
  /** Slice `n` is done (idempotent); how many slices remain. */
  complete(jobId: string, n: number): Promise<number>;
  /** The index and manifest are built. */
  finish(jobId: string): Promise<void>;
}

export interface SliceQueue {
  send(messages: SliceMessage[]): Promise<void>;
}

export interface SliceDeps {
  store: ObjectStore;
  jobs: ImportJobs;
  queue: SliceQueue;
  log: Log;
  limits?: Partial<ZipLimits>;
}

/** One job per uploaded object version: the same key re-uploaded is a new job. */
export function importJobId(key: string, etag: string): string {
  return sha256Hex(new TextEncoder().encode(`${key}\n${etag}`)).slice(0, 32);
}

/** Pass 2 cut into bounded slices, entries first, then the rows without a GPX entry. */
export function sliceplan(plan: ZipPlan): ImportSlice[] {
  const out: ImportSlice[] = [];
  let from = 0;
  let bytes = 0;
  plan.entries.forEach((e, i) => {
    if (i > from && (i - from >= SLICE_ENTRIES || bytes + e.size > SLICE_BYTES)) {
      out.push({ n: out.length, kind: 'entries', from, to: i });
      from = i;
      bytes = 0;
    }
    bytes += e.size;
  });
  if (plan.entries.length > from) {
    out.push({ n: out.length, kind: 'entries', from, to: plan.entries.length });
  }
  for (let i = 0; i < plan.rowsWithoutEntry.length; i += SLICE_ROWS) {
    const to = Math.min(plan.rowsWithoutEntry.length, i + SLICE_ROWS);
    out.push({ n: out.length, kind: 'rows', from: i, to });
  }
  return out;
}

export interface FanOutResult {
  zipId?: string;
  slices: number;
  sent: number;
  finished: boolean;
  tally: RunTally;
}

/** The S3 event: plan, record the job, send its pending slices. */
export async function fanOutImport(
  deps: SliceDeps,
  src: ZipSource,
  at: { key: string; etag: string; userId: string },
): Promise<FanOutResult> {
  assertUserId(at.userId);
  const tally = emptyTally();
  const plan = await planZip(src, { ...DEFAULT_ZIP_LIMITS, ...deps.limits }, tally);
  if (!plan) return { slices: 0, sent: 0, finished: false, tally };
  const slices = sliceplan(plan);
  const jobId = importJobId(at.key, at.etag);
  const { pending, finished } = await deps.jobs.begin(
    jobId,
    slices.map((s) => s.n),
  );
  const todo = new Set(pending);
  const messages = slices
    .filter((s) => todo.has(s.n))
    .map((s): SliceMessage => ({ v: 1, ...at, ...s }));
  if (!finished) await deps.queue.send(messages);
  deps.log.info('export ZIP planned', {
    zipId: plan.zipId,
    slices: slices.length,
    sent: finished ? 0 : messages.length,
    errors: tally.errors.length,
  });
  return {
    zipId: plan.zipId,
    slices: slices.length,
    sent: finished ? 0 : messages.length,
    finished,
    tally,
  };
}

export interface SliceResult {
  n: number;
  /** Where the slice stopped for the deadline (the rest was re-sent), if it did. */
  continuedAt?: number;
  /** Slices still pending after this one (undefined when it was continued). */
  remaining?: number;
  indexed: boolean;
  tally: RunTally;
}

/**
 * One slice. `timeLeft` is checked before each entry or row: under `reserveMs` the rest of the
 * slice is sent as a new message (same slice number) and this one ends successfully.
 */
export async function runSlice(
  deps: SliceDeps,
  src: ZipSource,
  msg: SliceMessage,
  deadline: { timeLeft: () => number; reserveMs: number },
): Promise<SliceResult> {
  assertUserId(msg.userId);
  const lim = { ...DEFAULT_ZIP_LIMITS, ...deps.limits };
  const tally = emptyTally();
  const plan = await planZip(src, lim, emptyTally());
  const slice = plan && sliceplan(plan).find((s) => s.n === msg.n && s.kind === msg.kind);
  if (!plan || !slice) throw new Error(`slice ${msg.n} is not part of this ZIP's plan`);
  // A failed write fails the slice: its message comes back and the slice runs again.
  const run = new ZipImportRun(deps.store, msg.userId, plan, lim, tally, {
    throwOnWriteError: true,
  });
  const stop = async (at: number): Promise<SliceResult> => {
    await deps.queue.send([{ ...msg, from: at }]);
    deps.log.info('import slice continued before the deadline', { n: msg.n, at });
    return { n: msg.n, continuedAt: at, indexed: false, tally };
  };
  const from = Math.max(msg.from, slice.from);
  if (msg.kind === 'entries') {
    const wanted = new Map(plan.entries.slice(from, slice.to).map((e, i) => [e.ordinal, from + i]));
    let ordinal = -1;
    for await (const e of src.entries()) {
      const i = wanted.get(++ordinal);
      if (i === undefined) continue;
      if (deadline.timeLeft() < deadline.reserveMs) return stop(i);
      await run.entry(e, plan.entries[i]!);
    }
  } else {
    for (let i = from; i < slice.to; i++) {
      if (deadline.timeLeft() < deadline.reserveMs) return stop(i);
      await run.rowWithoutEntry(plan.rowsWithoutEntry[i]!);
    }
  }
  const jobId = importJobId(msg.key, msg.etag);
  const remaining = await deps.jobs.complete(jobId, msg.n);
  let indexed = false;
  if (remaining === 0) {
    await buildIndex(deps.store, msg.userId);
    await buildManifest(deps.store, msg.userId);
    await deps.jobs.finish(jobId);
    indexed = true;
    deps.log.info('export ZIP imported', { zipId: plan.zipId });
  }
  return { n: msg.n, remaining, indexed, tally };
}
