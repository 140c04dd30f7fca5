/**
 * Which activities the archive itself records as deleted upstream, for a re-render without a
 * ledger: an `aws s3 sync` copy of the AWS bucket has no local state database, and its
 * DELETED marks live only in the assembled index (`index/{userId}/activities.ndjson`, written
 * by the scheduler from the DynamoDB ledger) and in per-activity rows. Re-rendering must keep
 * those marks, not turn deleted activities back into ordinary rows.
 */
import { assertUserId } from '../keys.ts';
import type { ObjectStore } from '../ports.ts';

const dec = new TextDecoder();

export async function deletedIdsInArchive(
  store: ObjectStore,
  userId: string,
): Promise<Set<string>> {
  const out = new Set<string>();
  const bytes = await store.get(`index/${assertUserId(userId)}/activities.ndjson`);
  for (const line of bytes ? dec.decode(bytes).split('\n') : []) {
    if (!line.trim()) continue;
    try {
      const row = JSON.parse(line) as { id?: unknown; deleted?: unknown };
      if (row.deleted === true && typeof row.id === 'string') out.add(row.id);
    } catch {
      // A damaged line marks nothing.
    }
  }
  return out;
}
