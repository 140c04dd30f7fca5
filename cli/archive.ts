/**
 * A data directory as an archive, with or without a linked account: a ZIP-only user (who
 * only ran `import`), or a tree copied from the bucket (`aws s3 sync`) that has raw
 * documents but no state database. Commands that only read or re-render the archive
 * (status, export, verify) work on both: the users are the `raw/{userId}/` folders, and a
 * missing state database is created empty instead of refusing.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { IndexRow } from '../functions/core/export/index-row.ts';
import type { ObjectStore } from '../functions/core/ports.ts';
import { CliError, EXIT } from './errors.ts';
import { type LocalStores, openLocal } from './local.ts';

/** User ids with a `raw/{userId}/` folder in the data directory. */
export function archiveUsers(dataDir: string): string[] {
  const raw = join(dataDir, 'raw');
  if (!existsSync(raw)) return [];
  return readdirSync(raw, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^[0-9]{1,20}$/.test(d.name))
    .map((d) => d.name)
    .sort();
}

/** Opens the data directory when it has rk-sync state or at least an archive tree. */
export function openArchive(
  dataDir: string,
  nothingHint: string,
  nothingExit: number = EXIT.usage,
  readOnly = false,
): LocalStores {
  try {
    return openLocal(dataDir, { mustExist: archiveUsers(dataDir).length === 0, readOnly });
  } catch (e) {
    if (e instanceof CliError && /^no rk-sync data/.test(e.message)) {
      throw new CliError(`${e.message}; ${nothingHint}`, nothingExit);
    }
    throw e;
  }
}

/** Linked accounts and archive-only users, each once. */
export async function allUsers(stores: LocalStores): Promise<string[]> {
  return [
    ...new Set([
      ...(await stores.accounts.list()).map((a) => a.userId),
      ...archiveUsers(stores.dataDir),
    ]),
  ];
}

export interface ArchiveSummary {
  userId: string;
  /** Index rows (one per activity, API and ZIP copies of one activity counted once). */
  activities: number;
  bySource: { api: number; zip: number; 'api+zip': number };
  /** False when no index was built yet (run `rk-sync export`). */
  indexed: boolean;
}

/** What the archive of one user holds, from its NDJSON index. */
export async function archiveSummary(store: ObjectStore, userId: string): Promise<ArchiveSummary> {
  const out: ArchiveSummary = {
    userId,
    activities: 0,
    bySource: { api: 0, zip: 0, 'api+zip': 0 },
    indexed: false,
  };
  const bytes = await store.get(`index/${userId}/activities.ndjson`);
  if (!bytes) return out;
  out.indexed = true;
  for (const line of new TextDecoder().decode(bytes).split('\n')) {
    if (!line.trim()) continue;
    try {
      const row = JSON.parse(line) as Pick<IndexRow, 'source'>;
      out.activities++;
      if (row.source in out.bySource) out.bySource[row.source]++;
    } catch {
      // a damaged line: `rk-sync export` rebuilds the index
    }
  }
  return out;
}
