/**
 * The push ledger: one record per (destination, user, archived activity), so a push never
 * uploads an activity twice and resumes exactly where it stopped.
 *
 *   (none) ─intent→ UPLOADING ─POST /uploads→ PROCESSING ─ready→ DONE (activity id)
 *                                         └─"duplicate of N"→ DONE (N, note)
 *                                         └─error→ FAILED (reason)
 *   (none) ─intent→ CREATING ─POST /activities→ DONE
 *   (none) ─already on Strava (start + distance)→ SKIPPED (note, their activity id)
 *
 * The intent (UPLOADING/CREATING) is written before the call: after a crash in between, the
 * upload is repeated with the same external_id (Strava answers "duplicate of N", recorded as
 * DONE) and a manual entry is first looked for on Strava (start + distance) before creating it.
 */
export type PushState = 'UPLOADING' | 'PROCESSING' | 'CREATING' | 'DONE' | 'SKIPPED' | 'FAILED';

export interface PushRecord {
  dest: 'strava';
  userId: string;
  /** The archive's activity id. */
  id: string;
  state: PushState;
  externalId?: string | undefined;
  uploadId?: string | undefined;
  /** The Strava activity this archive activity is (uploaded, duplicate, or already there). */
  stravaId?: string | undefined;
  /** How it got there: uploaded file, manual entry, Strava's duplicate answer, found already there. */
  how?: 'upload' | 'manual' | 'duplicate' | 'existing' | undefined;
  /** hide_from_home set (the mute option). */
  muted?: boolean | undefined;
  /** Next upload status poll (PROCESSING). */
  nextPollAt?: number | undefined;
  polls?: number | undefined;
  reason?: string | undefined;
  note?: string | undefined;
  attempts: number;
  updatedAt: number;
  /** Optimistic concurrency, managed by the store. */
  version: number;
}

export interface PushLedger {
  get(dest: string, userId: string, id: string): Promise<PushRecord | undefined>;
  /** Writes when the stored version is still `rec.version` (0 = new); returns false otherwise. */
  save(rec: PushRecord): Promise<boolean>;
  list(dest: string, userId: string): Promise<PushRecord[]>;
}

export type PushCounts = Record<PushState, number>;

export function countStates(recs: readonly PushRecord[]): PushCounts {
  const c: PushCounts = {
    UPLOADING: 0,
    PROCESSING: 0,
    CREATING: 0,
    DONE: 0,
    SKIPPED: 0,
    FAILED: 0,
  };
  for (const r of recs) c[r.state]++;
  return c;
}

/** Records that finish a push item: nothing more will be done for them. */
export function isFinal(r: PushRecord | undefined, mute: boolean): boolean {
  if (!r) return false;
  if (r.state === 'SKIPPED' || r.state === 'FAILED') return true;
  return r.state === 'DONE' && (!mute || r.muted === true || r.how === 'existing');
}

export class MemoryPushLedger implements PushLedger {
  readonly #m = new Map<string, PushRecord>();
  #k(dest: string, userId: string, id: string) {
    return `${dest}|${userId}|${id}`;
  }
  async get(dest: string, userId: string, id: string) {
    const r = this.#m.get(this.#k(dest, userId, id));
    return r ? { ...r } : undefined;
  }
  async save(rec: PushRecord) {
    const k = this.#k(rec.dest, rec.userId, rec.id);
    const cur = this.#m.get(k)?.version ?? 0;
    if (cur !== rec.version) return false;
    this.#m.set(k, { ...rec, version: cur + 1 });
    return true;
  }
  async list(dest: string, userId: string) {
    return [...this.#m.values()]
      .filter((r) => r.dest === dest && r.userId === userId)
      .map((r) => ({ ...r }));
  }
}
