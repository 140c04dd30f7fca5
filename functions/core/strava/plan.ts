/**
 * What a push would send: every activity of the archive (API and export ZIP) once, oldest
 * first. An activity present in both sources (merged in the index, `source: api+zip`) is one
 * candidate, the API document; deleted activities (tombstones) are not pushed.
 */
import { normalizeActivity } from '../export/activity.ts';
import { mergeSources, rawActivities } from '../export/derive.ts';
import { type IndexRow, indexRow } from '../export/index-row.ts';
import { assertUserId } from '../keys.ts';
import type { ObjectStore } from '../ports.ts';

export interface PushCandidate {
  userId: string;
  id: string;
  key: string;
  row: IndexRow;
  /** Uploaded as a file (GPS path and a known UTC start) or created as a manual entry. */
  kind: 'file' | 'manual';
  /** Photos in the raw document: the Strava API cannot upload them. */
  photos: number;
  /** Sort key: UTC start when known, else the local start read as UTC. */
  startMs: number;
}

export interface PushFilter {
  /** Local start date (YYYY-MM-DD) at or after. */
  since?: string | undefined;
  /** Local start date (YYYY-MM-DD) at or before. */
  until?: string | undefined;
  /** Runkeeper types, case-insensitive (e.g. running, cycling). */
  types?: string[] | undefined;
}

export interface PushPlan {
  candidates: PushCandidate[];
  /** ZIP activities that are the same activity as an API one (pushed once). */
  merged: number;
  /** Raw documents that are not usable activities. */
  unreadable: { id: string; reason: string }[];
  filteredOut: number;
}

export async function planPush(
  store: ObjectStore,
  userId: string,
  deleted: ReadonlySet<string>,
  filter: PushFilter = {},
): Promise<PushPlan> {
  const rows: IndexRow[] = [];
  const extra = new Map<string, { kind: PushCandidate['kind']; photos: number; key: string }>();
  const unreadable: PushPlan['unreadable'] = [];
  for await (const { id, key, bytes } of rawActivities(store, userId)) {
    try {
      const raw = JSON.parse(Buffer.from(bytes).toString('utf8')) as { images?: unknown };
      const act = normalizeActivity(raw);
      rows.push(indexRow(userId, act, { raw: key }));
      const file = act.hasPath && act.segments.length > 0 && act.startMs !== undefined;
      extra.set(act.id, {
        kind: file ? 'file' : 'manual',
        photos: Array.isArray(raw.images) ? raw.images.length : 0,
        key,
      });
    } catch (e) {
      unreadable.push({ id, reason: (e as Error).message });
    }
  }
  const merged = mergeSources(rows);
  return {
    ...selectCandidates(userId, merged, deleted, filter, (id) => extra.get(id)),
    merged: rows.length - merged.length,
    unreadable,
  };
}

/**
 * The AWS pusher's plan: the user's `index/{userId}/activities.ndjson` (one GET, rebuilt by the
 * scheduler when something changed, already merged across sources) instead of every raw file.
 */
export async function planFromIndex(
  store: ObjectStore,
  userId: string,
  filter: PushFilter = {},
): Promise<PushPlan> {
  const bytes = await store.get(`index/${assertUserId(userId)}/activities.ndjson`);
  const rows: IndexRow[] = [];
  const unreadable: PushPlan['unreadable'] = [];
  for (const line of Buffer.from(bytes ?? new Uint8Array())
    .toString('utf8')
    .split('\n')) {
    if (!line.trim()) continue;
    try {
      rows.push(JSON.parse(line) as IndexRow);
    } catch (e) {
      unreadable.push({ id: '?', reason: (e as Error).message });
    }
  }
  const deleted = new Set(rows.filter((r) => r.deleted).map((r) => r.id));
  const byId = new Map(rows.map((r) => [r.id, r]));
  return {
    ...selectCandidates(userId, rows, deleted, filter, (id) => {
      const r = byId.get(id)!;
      return { kind: r.hasPath && r.utcStart ? 'file' : 'manual', photos: 0, key: r.keys.raw };
    }),
    merged: 0,
    unreadable,
  };
}

function selectCandidates(
  userId: string,
  rows: readonly IndexRow[],
  deleted: ReadonlySet<string>,
  filter: PushFilter,
  extra: (id: string) => { kind: PushCandidate['kind']; photos: number; key: string } | undefined,
): { candidates: PushCandidate[]; filteredOut: number } {
  const types = filter.types?.map((t) => t.trim().toLowerCase());
  const out: PushCandidate[] = [];
  let filteredOut = 0;
  for (const row of rows) {
    if (deleted.has(row.id)) continue;
    const day = row.localStart.slice(0, 10);
    if (
      (filter.since && day < filter.since) ||
      (filter.until && day > filter.until) ||
      (types && !types.includes(row.type.toLowerCase()))
    ) {
      filteredOut++;
      continue;
    }
    const x = extra(row.id);
    if (!x) continue;
    out.push({
      userId,
      id: row.id,
      key: x.key,
      row,
      kind: x.kind,
      photos: x.photos,
      startMs: row.utcStart ? Date.parse(row.utcStart) : Date.parse(`${row.localStart}Z`),
    });
  }
  out.sort((a, b) => a.startMs - b.startMs || a.id.localeCompare(b.id));
  return { candidates: out, filteredOut };
}
