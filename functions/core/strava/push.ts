/**
 * `pushToStrava`: every planned activity reaches Strava exactly once, paced by the
 * application's rate-limit windows, resumable after any crash (see ledger.ts for the states).
 *
 * One loop, one call at a time: a due upload-status poll first, then a pending mute, then the
 * next upload while fewer than `maxInFlight` uploads are processing; otherwise sleep until the
 * next poll is due. The client waits for budget slots, so a long push simply spreads over
 * days; stop it any time and the next run continues.
 */
import type { Clock } from '../clock.ts';
import { normalizeActivity } from '../export/activity.ts';
import type { Log, ObjectStore } from '../ports.ts';
import {
  duplicateOf,
  externalId,
  type FilePreference,
  type FitRenderer,
  manualEntry,
  stravaName,
  stravaSport,
  uploadFile,
} from './activity.ts';
import {
  StravaApiError,
  StravaBudgetWait,
  type StravaClient,
  StravaRevokedError,
} from './client.ts';
import { findExisting, listStravaActivities, type StravaListed } from './existing.ts';
import { isFinal, type PushLedger, type PushRecord } from './ledger.ts';
import { type MultiWindowBudget, pushEtaMs } from './limits.ts';
import type { PushCandidate, PushPlan } from './plan.ts';

export interface PushDeps {
  client: StravaClient;
  budget: MultiWindowBudget;
  ledger: PushLedger;
  store: ObjectStore;
  clock: Clock;
  log: Log;
  signal?: AbortSignal | undefined;
  renderFit?: FitRenderer | undefined;
}

export interface PushOptions {
  userId: string;
  /** Set hide_from_home on each pushed activity (the only visibility control the API has). */
  mute: boolean;
  prefer: FilePreference;
  /** Push at most this many activities in this run. */
  limit?: number | undefined;
  maxInFlight?: number | undefined;
  /** Lambda: start nothing new after this time (epoch ms); the run ends `paused`. */
  deadline?: number | undefined;
  /** Lambda: never sleep longer than this for a poll; the run ends `paused` with `resumeAt`. */
  maxSleepMs?: number | undefined;
  /** First upload-status poll after this long (Strava: mean processing under 2 s; poll ≥ 1 s apart). */
  firstPollMs?: number | undefined;
  onProgress?: ((p: PushProgress) => void) | undefined;
}

export interface PushProgress {
  done: number;
  total: number;
  inFlight: number;
  etaMs: number;
}

export interface PushSummary {
  planned: number;
  alreadyDone: number;
  uploaded: number;
  manual: number;
  duplicates: number;
  skippedExisting: number;
  failed: number;
  /** Left for a later run (stopped, or a transient error). */
  remaining: number;
  apiCalls: number;
  etaMs: number;
  photosNotUploaded: number;
  /** `unavailable`: Strava kept failing (5xx, network) after the retries; run again later. */
  stopped: 'done' | 'interrupted' | 'revoked' | 'unavailable' | 'paused';
  /** When `paused`: when work can continue (a budget slot, a poll, or now after a deadline). */
  resumeAt?: number | undefined;
  notes: string[];
}

const FIRST_POLL_MS = 2_000;
const MAX_POLL_MS = 600_000;

export async function pushToStrava(
  plan: PushPlan,
  d: PushDeps,
  o: PushOptions,
): Promise<PushSummary> {
  const dest = 'strava';
  const s: PushSummary = {
    planned: plan.candidates.length,
    alreadyDone: 0,
    uploaded: 0,
    manual: 0,
    duplicates: 0,
    skippedExisting: 0,
    failed: 0,
    remaining: 0,
    apiCalls: 0,
    etaMs: 0,
    photosNotUploaded: 0,
    stopped: 'done',
    notes: [],
  };
  const callsBefore = d.client.calls;
  const recs = new Map((await d.ledger.list(dest, o.userId)).map((r) => [r.id, r]));
  const todo: PushCandidate[] = [];
  for (const c of plan.candidates) {
    if (isFinal(recs.get(c.id), o.mute)) s.alreadyDone++;
    else todo.push(c);
  }
  const work = o.limit === undefined ? todo : todo.slice(0, o.limit);
  const byId = new Map(work.map((c) => [c.id, c]));
  const inflight = [...recs.values()].filter((r) => r.state === 'PROCESSING' && byId.has(r.id));
  const mutes = [...recs.values()].filter(
    (r) => r.state === 'DONE' && o.mute && !isFinal(r, true) && byId.has(r.id),
  );
  const fresh = work.filter((c) => {
    const st = recs.get(c.id)?.state;
    return st === undefined || st === 'UPLOADING' || st === 'CREATING';
  });
  const total = work.length;
  let finished = 0;
  const eta = () =>
    pushEtaMs(total - finished, { upload: 1, read: (o.mute ? 1 : 0) + 1 }, d.budget);
  const progress = () =>
    o.onProgress?.({ done: finished, total, inFlight: inflight.length, etaMs: eta() });

  const save = async (r: PushRecord, patch: Partial<PushRecord>): Promise<PushRecord> => {
    const next: PushRecord = { ...r, ...patch, updatedAt: d.clock.now() };
    if (!(await d.ledger.save(next))) throw new ConcurrentPushError(r.id);
    const stored = { ...next, version: r.version + 1 };
    recs.set(r.id, stored);
    return stored;
  };
  const blank = (c: PushCandidate): PushRecord =>
    recs.get(c.id) ?? {
      dest,
      userId: o.userId,
      id: c.id,
      state: 'UPLOADING',
      attempts: 0,
      updatedAt: 0,
      version: 0,
    };
  const done = async (r: PushRecord, patch: Partial<PushRecord>) => {
    const stored = await save(r, { state: 'DONE', nextPollAt: undefined, ...patch });
    if (patch.how === 'duplicate') s.duplicates++;
    else if (patch.how === 'manual') s.manual++;
    else s.uploaded++;
    if (o.mute && patch.how !== 'existing') mutes.push(stored);
    else finished++;
  };

  // Activities already on Strava (a watch, another tool, or our own upload before a crash).
  let existing: StravaListed[] = [];
  const claimed = new Set([...recs.values()].map((r) => r.stravaId).filter((x) => x !== undefined));
  try {
    if (fresh.length > 0) {
      existing = await listStravaActivities(
        d.client,
        Math.min(...fresh.map((c) => c.startMs)) - 86_400_000,
        Math.max(...fresh.map((c) => c.startMs)) + 86_400_000,
      );
    }

    const handleUploadAnswer = async (r: PushRecord, j: UploadJson) => {
      if (j.activity_id) return done(r, { stravaId: String(j.activity_id), how: 'upload' });
      if (j.error) {
        const dup = duplicateOf(j.error);
        if (dup)
          return done(r, {
            stravaId: dup,
            how: 'duplicate',
            note: `Strava: duplicate of activity ${dup}`,
          });
        await save(r, {
          state: 'FAILED',
          reason: `Strava could not process the file: ${j.error.slice(0, 300)}`,
        });
        s.failed++;
        finished++;
        return;
      }
      const polls = (r.polls ?? 0) + 1;
      const stored = await save(r, {
        state: 'PROCESSING',
        uploadId: j.id === undefined ? r.uploadId : String(j.id),
        polls,
        nextPollAt:
          d.clock.now() +
          Math.min(MAX_POLL_MS, (o.firstPollMs ?? FIRST_POLL_MS) * 2 ** (polls - 1)),
      });
      const i = inflight.findIndex((x) => x.id === r.id);
      if (i >= 0) inflight[i] = stored;
      else inflight.push(stored);
    };

    const startOne = async (c: PushCandidate) => {
      let r = blank(c);
      const match = findExisting(c, existing, claimed);
      if (match) {
        claimed.add(match.id);
        const ours = match.external_id?.startsWith(`rk-sync-${o.userId}-${c.id}.`) === true;
        if (ours || r.state === 'CREATING') {
          return done(r, { stravaId: match.id, how: ours ? 'upload' : 'manual' });
        }
        await save(r, {
          state: 'SKIPPED',
          stravaId: match.id,
          how: 'existing',
          note: `already on Strava as activity ${match.id} (start and distance match)`,
        });
        s.skippedExisting++;
        finished++;
        return;
      }
      const raw: unknown = JSON.parse(
        Buffer.from((await d.store.get(c.key)) ?? '{}').toString('utf8'),
      );
      const act = normalizeActivity(raw);
      s.photosNotUploaded += c.photos;
      const file = uploadFile(act, o.prefer, d.renderFit);
      if (file) {
        const ext = externalId(o.userId, c.id, file.dataType);
        r = await save(r, { state: 'UPLOADING', externalId: ext, attempts: r.attempts + 1 });
        const form = new FormData();
        form.set('file', new Blob([file.bytes as Uint8Array<ArrayBuffer>]), file.filename);
        form.set('data_type', file.dataType);
        form.set('external_id', ext);
        form.set('name', stravaName(act, raw));
        if (act.notes) form.set('description', act.notes);
        if (stravaSport(act.type, act.equipment).trainer) form.set('trainer', '1');
        const res = await d.client.request('upload', 'POST', '/uploads', form);
        return handleUploadAnswer(r, res.json as UploadJson);
      }
      const m = manualEntry(act, raw);
      if ('reason' in m) {
        await save(r, { state: 'FAILED', reason: m.reason });
        s.failed++;
        finished++;
        return;
      }
      r = await save(r, { state: 'CREATING', attempts: r.attempts + 1 });
      const res = await d.client.request('upload', 'POST', '/activities', m.form);
      const id = (res.json as { id?: unknown } | undefined)?.id;
      if (id === undefined)
        throw new StravaApiError('POST /activities answered without an id', res.status, true);
      await done(r, {
        stravaId: String(id),
        how: 'manual',
        note: act.hasPath
          ? 'no UTC start in the archive: a manual entry without the track'
          : undefined,
      });
    };

    const poll = async (r: PushRecord) => {
      try {
        const res = await d.client.request('read', 'GET', `/uploads/${r.uploadId}`);
        inflight.splice(inflight.indexOf(r), 1);
        await handleUploadAnswer(r, res.json as UploadJson);
      } catch (e) {
        if (e instanceof StravaApiError && e.status === 404) {
          // Unknown upload: upload again; the external_id makes Strava answer "duplicate of N".
          inflight.splice(inflight.indexOf(r), 1);
          await save(r, { state: 'UPLOADING', uploadId: undefined });
          const c = byId.get(r.id);
          if (c) queue.push(c);
          return;
        }
        throw e;
      }
    };

    const queue = [...fresh];
    const skipThisRun = (c: PushCandidate | PushRecord, e: unknown) => {
      s.notes.push(`${c.id}: ${(e as Error).message} (left for the next run)`);
      d.log.warn('Strava push: item left for the next run', {
        id: c.id,
        error: (e as Error).message,
      });
    };
    for (;;) {
      if (d.signal?.aborted) throw d.signal.reason;
      const now = d.clock.now();
      if (o.deadline !== undefined && now >= o.deadline) throw new StravaBudgetWait(now);
      const due = inflight
        .filter((r) => (r.nextPollAt ?? 0) <= now)
        .sort((a, b) => (a.nextPollAt ?? 0) - (b.nextPollAt ?? 0));
      try {
        if (due.length > 0) {
          await poll(due[0]!);
        } else if (mutes.length > 0) {
          const r = mutes.shift()!;
          try {
            await d.client.request(
              'read',
              'PUT',
              `/activities/${r.stravaId}`,
              new URLSearchParams({ hide_from_home: 'true' }),
            );
            await save(recs.get(r.id) ?? r, { muted: true });
          } catch (e) {
            // Not visible yet (the original upload still processing) or gone: mute next run.
            if (!(e instanceof StravaApiError) || e.status !== 404) throw e;
            skipThisRun(r, e);
          }
          finished++;
        } else if (inflight.length < (o.maxInFlight ?? 8) && queue.length > 0) {
          const c = queue.shift()!;
          try {
            await startOne(c);
          } catch (e) {
            if (e instanceof ConcurrentPushError) {
              skipThisRun(c, e); // another pusher holds this item: it will finish it
              continue;
            }
            if (!(e instanceof StravaApiError) || !e.retryable) {
              if (e instanceof StravaApiError) {
                await save(recs.get(c.id) ?? blank(c), { state: 'FAILED', reason: e.message });
                s.failed++;
                finished++;
              } else if (e instanceof SyntaxError || (e as Error).name === 'InvalidPayloadError') {
                await save(recs.get(c.id) ?? blank(c), {
                  state: 'FAILED',
                  reason: `unreadable archive document: ${(e as Error).message}`,
                });
                s.failed++;
                finished++;
              } else throw e;
            } else skipThisRun(c, e);
          }
        } else if (inflight.length === 0) {
          break;
        } else {
          const next = Math.min(...inflight.map((r) => r.nextPollAt ?? now));
          if (o.maxSleepMs !== undefined && next - now > o.maxSleepMs)
            throw new StravaBudgetWait(next);
          await d.clock.sleep(Math.max(1, next - now), d.signal);
        }
      } catch (e) {
        if (e instanceof StravaApiError && e.retryable && due.length > 0) {
          // A poll that keeps failing: try again later, after the others.
          const r = due[0]!;
          r.nextPollAt = d.clock.now() + MAX_POLL_MS;
          skipThisRun(r, e);
          if (inflight.every((x) => (x.nextPollAt ?? 0) > d.clock.now()) && queue.length === 0)
            break;
          continue;
        }
        throw e;
      }
      progress();
    }
  } catch (e) {
    if (e instanceof StravaRevokedError) {
      s.stopped = 'revoked';
      s.notes.push(e.message);
    } else if (d.signal?.aborted) {
      s.stopped = 'interrupted';
    } else if (e instanceof StravaBudgetWait) {
      s.stopped = 'paused';
      s.resumeAt = e.waitUntil;
    } else if (e instanceof ConcurrentPushError) {
      s.stopped = 'paused';
      s.resumeAt = d.clock.now();
      s.notes.push(e.message);
    } else if (e instanceof StravaApiError && e.retryable) {
      s.stopped = 'unavailable';
      s.notes.push(`${e.message}; run again later to continue`);
    } else throw e;
  }
  s.apiCalls = d.client.calls - callsBefore;
  s.remaining =
    (await d.ledger.list(dest, o.userId)).filter((r) => byId.has(r.id) && !isFinal(r, o.mute))
      .length + work.filter((c) => !recs.has(c.id)).length;
  s.etaMs = pushEtaMs(
    todo.length - (total - s.remaining),
    { upload: 1, read: (o.mute ? 1 : 0) + 1 },
    d.budget,
  );
  if (s.photosNotUploaded > 0) {
    s.notes.push(
      `${s.photosNotUploaded} photos stay in the archive: the Strava API cannot upload photos`,
    );
  }
  return s;
}

/** Another pusher (a concurrent Lambda) wrote this item first: leave it to that one. */
export class ConcurrentPushError extends Error {
  constructor(id: string) {
    super(`push ledger: ${id} was updated concurrently`);
    this.name = 'ConcurrentPushError';
  }
}

interface UploadJson {
  id?: number | string;
  error?: string | null;
  status?: string;
  activity_id?: number | string | null;
}
