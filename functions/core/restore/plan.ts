/**
 * Bringing back a deleted or overwritten archive object from the bucket's versions (S3
 * versioning keeps every earlier revision for 10 years). Pure decisions plus a small loop over
 * a port; the S3 adapter is functions/adapters/aws/s3-versions.ts, the CLI `rk-sync restore`.
 *
 * The ledger says which revision is the right one: its versionId, or failing that (the
 * version was itself re-copied) the newest version whose sha256 equals its contentHash.
 */
import type { FeedName } from '../keys.ts';
import { rawKey } from '../keys.ts';
import type { Ledger, LedgerItem } from '../ports.ts';

export interface ObjectVersion {
  versionId: string;
  /** A delete marker: the key reads as missing while it is the newest entry. */
  deleteMarker: boolean;
  /** The key's current entry (S3's IsLatest). */
  isLatest: boolean;
  /** Whole seconds on S3: ties are common, so order comes from the listing, not from this. */
  lastModified: number;
  /** sha256 (hex) from the object's metadata; absent on delete markers. */
  sha256?: string | undefined;
}

/** Port: a versioned object store (the archive bucket). */
export interface VersionedObjects {
  /** Every version of exactly `key` newest first, then its delete markers newest first. */
  versions(key: string): Promise<ObjectVersion[]>;
  /** Permanently removes one version or delete marker. */
  removeVersion(key: string, versionId: string): Promise<void>;
  /** Copies `versionId` over the key as a new current version; returns the new version id. */
  copyVersion(key: string, versionId: string): Promise<string | undefined>;
}

export interface Wanted {
  versionId?: string | undefined;
  sha256?: string | undefined;
}

export type RestorePlan =
  | { action: 'intact'; target: ObjectVersion }
  | { action: 'undelete'; target: ObjectVersion; markers: ObjectVersion[] }
  | { action: 'copy'; target: ObjectVersion }
  | { action: 'missing'; reason: string };

/**
 * Which version to bring back and how. A key whose only newer entries are delete markers is
 * undeleted by removing the markers (the version becomes current again with its own id);
 * anything else newer (an overwrite) is kept as history and the target is copied on top.
 */
export function planRestore(versions: readonly ObjectVersion[], want: Wanted): RestorePlan {
  const real = versions.filter((v) => !v.deleteMarker);
  const target =
    (want.versionId ? real.find((v) => v.versionId === want.versionId) : undefined) ??
    (want.sha256 ? real.find((v) => v.sha256 === want.sha256) : undefined) ??
    (want.versionId || want.sha256 ? undefined : real[0]);
  if (!target) {
    return {
      action: 'missing',
      reason:
        versions.length === 0
          ? 'no version of this key exists'
          : 'no stored version matches the wanted revision',
    };
  }
  const latest = versions.find((v) => v.isLatest);
  if (latest === target) return { action: 'intact', target };
  if (latest?.deleteMarker && real[0] === target) {
    const markers = versions.filter((v) => v.deleteMarker && v.lastModified >= target.lastModified);
    return { action: 'undelete', target, markers };
  }
  return { action: 'copy', target };
}

export interface RestoreResult {
  key: string;
  action: RestorePlan['action'];
  /** The version brought back (its id), and the current version id afterwards. */
  fromVersion?: string | undefined;
  currentVersion?: string | undefined;
  reason?: string | undefined;
}

export async function restoreObject(
  store: VersionedObjects,
  key: string,
  want: Wanted,
  opts: { dryRun?: boolean } = {},
): Promise<RestoreResult> {
  const plan = planRestore(await store.versions(key), want);
  if (plan.action === 'missing') return { key, action: 'missing', reason: plan.reason };
  const base = { key, action: plan.action, fromVersion: plan.target.versionId };
  if (plan.action === 'intact' || opts.dryRun) {
    return {
      ...base,
      currentVersion: plan.action === 'intact' ? plan.target.versionId : undefined,
    };
  }
  if (plan.action === 'undelete') {
    for (const m of plan.markers) await store.removeVersion(key, m.versionId);
    return { ...base, currentVersion: plan.target.versionId };
  }
  return { ...base, currentVersion: await store.copyVersion(key, plan.target.versionId) };
}

/** What the ledger says an activity's raw document should be. */
export function wantedFromLedger(item: LedgerItem): { key: string; want: Wanted } {
  return {
    key: item.key ?? rawKey(item.userId, { feed: item.feed, id: item.id }),
    want: { versionId: item.versionId, sha256: item.contentHash },
  };
}

export async function restoreActivity(
  store: VersionedObjects,
  ledger: Ledger,
  ref: { userId: string; feed: FeedName; id: string },
  opts: { dryRun?: boolean } = {},
): Promise<RestoreResult> {
  const item = await ledger.get(ref.userId, ref.feed, ref.id);
  if (!item?.contentHash) {
    return {
      key: rawKey(ref.userId, ref),
      action: 'missing',
      reason: item ? 'the ledger records no stored revision for it' : 'not in the ledger',
    };
  }
  const { key, want } = wantedFromLedger(item);
  return restoreObject(store, key, want, opts);
}

/**
 * Every stored activity of a user whose current object is not the ledger's revision
 * (`current(key)` is the sha256 of the current object, undefined when missing) is restored.
 */
export async function restoreAll(
  store: VersionedObjects,
  ledger: Ledger,
  userId: string,
  current: (key: string) => Promise<string | undefined>,
  opts: { dryRun?: boolean } = {},
): Promise<{ checked: number; results: RestoreResult[] }> {
  const results: RestoreResult[] = [];
  let checked = 0;
  for (const item of await ledger.list(userId)) {
    if (!item.contentHash) continue;
    checked++;
    const { key, want } = wantedFromLedger(item);
    if ((await current(key)) === item.contentHash) continue;
    results.push(await restoreObject(store, key, want, opts));
  }
  return { checked, results };
}
