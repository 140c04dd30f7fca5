/**
 * Guards that mutation testing showed the suite did not pin down (issue #11):
 * - the re-list when a feed's `size` disagrees with the ledger (activities deleted upstream
 *   between pages shift every later page, so one pass skips as many as were deleted);
 * - the fetcher's re-check before its write (a newer revision stored by a concurrent delivery
 *   is never overwritten by an older fetch);
 * - the state database's integrity check (a real damaged page is refused, file untouched).
 */
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openDb, SqliteLedger, StateDbError } from '../../functions/adapters/local/index.ts';
import { sha256Hex } from '../../functions/core/hash.ts';
import { driveLocalSync } from '../../functions/core/sync/driver.ts';
import { type FetcherDeps, handleFetch } from '../../functions/core/sync/fetcher.ts';
import { runScheduler } from '../../functions/core/sync/scheduler.ts';
import { type CoreHarness, coreHarness, storedIds } from '../helpers/core-harness.ts';

let h: CoreHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
const tmp = mkdtempSync(join(tmpdir(), 'rk-guards-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('listing guards', () => {
  it('activities deleted upstream between pages: the size check re-lists and no live activity is lost', async () => {
    h = await coreHarness({
      sim: { activities: 150, faults: { deleteDuringPaging: 10 } },
      sync: { pageSize: 25 },
    });
    const userId = h.sim.users[0]!.userId;
    const before = new Set(h.sim.activityIds(userId));
    const r = await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    expect(r.stopped).toBe('done');
    const live = h.sim.activityIds(userId);
    expect(live).toHaveLength(140);
    const stored = new Set(await storedIds(h.store, userId));
    const lost = live.filter((id) => !stored.has(id));
    expect(lost, `${lost.length} live activities never stored`).toEqual([]);
    // Nothing that never existed, and each stored activity once.
    for (const id of stored) expect(before.has(id)).toBe(true);
    expect(h.logs.some((l) => l.includes('listing the feed again'))).toBe(true);
    expect(h.sim.http429()).toBe(0);
  });
});

describe('fetcher guards', () => {
  it('a newer revision stored by a concurrent delivery while this one fetched is never overwritten', async () => {
    h = await coreHarness({ sim: { activities: 3 } });
    const hh = h;
    const userId = hh.sim.users[0]!.userId;
    await runScheduler(hh.deps, hh.cfg, userId);
    const msg = hh.queue.pending[0]!.body;
    const key = `raw/${userId}/${msg.feed}/${msg.id}.json`;
    let raced = false;
    // This delivery's GET returns revision 1; before it writes, the activity is edited upstream
    // and a second delivery stores revision 2 and marks it synced.
    const deps: FetcherDeps = {
      ...hh.deps,
      api: (token, uid) => {
        const c = hh.deps.api(token, uid);
        const getItem = c.getItem.bind(c);
        c.getItem = async (ref, o) => {
          const doc = await getItem(ref, o);
          if (!raced) {
            raced = true;
            hh.sim.mutate.editActivity(userId, ref.id);
            const it = (await hh.ledger.get(userId, ref.feed, ref.id))!;
            await hh.ledger.observe(
              userId,
              [
                {
                  feed: ref.feed,
                  id: ref.id,
                  summaryHash: 'edited',
                  startTime: it.startTime,
                  force: true,
                },
              ],
              hh.clock.now(),
            );
            const rev = (await hh.ledger.get(userId, ref.feed, ref.id))!.wantRev;
            expect(await handleFetch(hh.deps, hh.cfg, { ...msg, rev })).toBe('synced');
          }
          return doc;
        };
        return c;
      },
    };
    expect(await handleFetch(deps, hh.cfg, msg)).toBe('duplicate');
    const newest = JSON.stringify(hh.sim.document(userId, msg.feed, msg.id));
    const stored = new TextDecoder().decode((await hh.store.get(key))!);
    expect(JSON.parse(stored)).toEqual(JSON.parse(newest));
    expect(hh.store.versions.get(key)).toHaveLength(1);
    const item = (await hh.ledger.get(userId, msg.feed, msg.id))!;
    expect(item.status).toBe('SYNCED');
    expect(item.contentHash).toBe(sha256Hex(new TextEncoder().encode(stored)));
  });
});

describe('state database integrity', () => {
  it('a real damaged page (not the schema) is refused by the integrity check and the file is left untouched', async () => {
    const dir = join(tmp, 'corrupt');
    const db = openDb(dir);
    const ledger = new SqliteLedger(db);
    for (let i = 0; i < 20; i++) {
      await ledger.observe(
        '1',
        Array.from({ length: 100 }, (_, j) => ({
          feed: 'fitnessActivities' as const,
          id: String(1_000_000 + i * 100 + j),
          summaryHash: 'x'.repeat(200),
        })),
        Date.now(),
      );
    }
    db.close(); // checkpoints the WAL into the main file
    const path = join(dir, '.rk-sync', 'state.db');
    const pageSize = readFileSync(path).readUInt16BE(16);
    const pages = statSync(path).size / pageSize;
    expect(pages).toBeGreaterThan(20);
    // Damage a late b-tree page (ledger data, far from the schema page and the meta table): its
    // header claims 200 fragmented bytes. Reading the schema and meta still works; only the
    // integrity check sees it (SQLite: "Fragmentation of 0 bytes reported as 200 on page N").
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from([200]), 0, 1, (pages - 2) * pageSize + 7);
    closeSync(fd);
    const damaged = readFileSync(path);

    let error: unknown;
    try {
      openDb(dir).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateDbError);
    expect((error as Error).message).toMatch(
      /damaged \(integrity check failed\); it was left untouched/,
    );
    expect(readFileSync(path).equals(damaged)).toBe(true);
  });
});
