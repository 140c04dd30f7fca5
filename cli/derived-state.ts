/**
 * The index, manifest and derived files of a local sync converge like the ledger: a run
 * records in the state database that a rebuild is owed (`derived_owed:{userId}`) before it
 * changes anything and clears it only after a rebuild that completed. A run killed during the
 * fetches or the rebuild, or stopped by a full disk, leaves the mark; the next run (even one
 * that fetches nothing) renders what is missing and rebuilds (index, manifest, HTML report).
 */
import type { LocalDb } from '../functions/adapters/local/index.ts';
import { rebuildDerived } from '../functions/core/export/heal.ts';
import type { Log } from '../functions/core/ports.ts';
import { storageFault } from '../functions/core/storage-fault.ts';
import type { LocalStores } from './local.ts';
import { refreshLocalReport } from './report.ts';

const owedKey = (userId: string) => `derived_owed:${userId}`;

/** The users whose rebuild an earlier run still owes; then marks every user owed for this run. */
export function markRebuildOwed(db: LocalDb, userIds: string[]): Set<string> {
  return db.tx(() => {
    const before = new Set(userIds.filter((u) => db.getMeta(owedKey(u)) !== undefined));
    for (const u of userIds) db.setMeta(owedKey(u), String(Date.now()));
    return before;
  });
}

export function clearRebuildOwed(db: LocalDb, userId: string): void {
  db.db.prepare('DELETE FROM meta WHERE key = ?').run(owedKey(userId));
}

/**
 * Rebuild each user that needs it (`changed` by this run, or `owed` by an earlier one: those
 * also get their missing derived files rendered), then clear the mark. A full or read-only disk
 * propagates (the mark stays); any other problem is a warning and the mark stays too.
 */
export async function settleDerived(
  stores: LocalStores,
  userIds: string[],
  log: Log,
  need: { changed: boolean; owed: ReadonlySet<string> },
): Promise<void> {
  for (const userId of userIds) {
    const heal = need.owed.has(userId);
    if (!need.changed && !heal) {
      clearRebuildOwed(stores.db, userId);
      continue;
    }
    try {
      const deleted = new Set((await stores.ledger.list(userId, 'DELETED')).map((it) => it.id));
      const r = await rebuildDerived(stores.store, userId, log, deleted, heal);
      if (r.rendered > 0)
        log.info(`rendered ${r.rendered} missing derived file set(s)`, { userId });
      // The HTML report follows the index (a failure is logged inside, never fatal).
      await refreshLocalReport(stores.store, userId, log);
      clearRebuildOwed(stores.db, userId);
    } catch (e) {
      if (storageFault(e)) throw e;
      log.warn('index not rebuilt; the next sync (or "rk-sync export") retries', {
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }
}
