/**
 * End to end on the deployed design, offline: authorise → callback → scheduler → queue →
 * fetcher until 200 activities are in S3 and the ledger says SYNCED; then an idle run, the
 * photos, the combined index assembled by the scheduler, a new, an edited and a deleted activity, a duplicate delivery, a crash between the S3 and
 * ledger writes, a lost message, the invariants, and a de-authorisation with onRevoke=delete.
 * The steps share one harness and run in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployedHarness } from '../helpers/deployed-harness.ts';

const ACTIVITIES = 200;
const h = new DeployedHarness({ activities: ACTIVITIES });
const edited: string[] = [];
const deleted: string[] = [];

beforeAll(async () => {
  await h.start();
}, 180_000);

afterAll(async () => {
  await h.stop();
});

describe('deployed design on moto + simulator', () => {
  it('links the owner through authorize → Runkeeper → callback, which starts the first sync', async () => {
    const r = await h.link();
    // B7: 303 to the result page, so the code never stays in the address bar.
    expect(r.location).toBe('/callback?result=linked');
    expect(r.status).toBe(200);
    expect(r.userId).toMatch(/^\d+$/);
    expect(r.firstRun?.outcome).toBe('ok');
    expect(r.firstRun?.enqueued).toBeGreaterThan(0);
    expect(h.token).not.toBe('');
  }, 90_000);

  it(`backfills ${ACTIVITIES} activities: every one in S3 once and SYNCED`, async () => {
    const r = await h.backfill();
    expect(r.expected + r.live).toBe(ACTIVITIES);
    expect(r.counts.SYNCED).toBe(r.expected);
    // Activities still being recorded upstream are stored and kept PENDING for a later fetch.
    expect(r.counts.PENDING).toBe(r.live);
    expect(r.counts.ENQUEUED + r.counts.FAILED).toBe(0);
    const stored = await h.storedActivities();
    expect(stored.size).toBe(ACTIVITIES);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    expect(h.sim.http429()).toBe(0);
  }, 90_000);

  it('an idle scheduled run costs exactly one API call and enqueues nothing', async () => {
    const r = await h.idleRun();
    expect(r.apiCalls).toBe(1);
    expect(r.paths).toEqual(['/changeLog']);
    expect(r.enqueued).toBe(0);
    expect(r.queueDepth).toBe(0);
    expect(r.requests.SQS ?? 0).toBe(0);
    expect(r.requests.S3 ?? 0).toBe(0);
    // Writes: the budget item (one call spent) and the account's run record, nothing else.
    expect(r.requests['DynamoDB:PutItem'] ?? 0).toBeLessThanOrEqual(2);
  });

  it('photos of the stored activities land under media/{userId}/fitnessActivities/{id}/', async () => {
    const r = await h.photos();
    expect(r.activitiesWithPhotos).toBeGreaterThan(0);
    expect(r.objects).toBeGreaterThanOrEqual(2 * r.activitiesWithPhotos);
    expect(r.missing).toEqual([]);
    expect(r.strays).toEqual([]);
  });

  it('the scheduler assembles the combined index: one row per stored activity, then stays idle', async () => {
    const r = await h.rebuildIndex();
    // Live activities are stored raw only; their row comes with the final fetch.
    const stored = [...(await h.storedActivities()).keys()];
    const finished = stored.filter((id) => !h.isLive(id));
    expect(r.runs[0]?.outcome).toBe('ok');
    expect(r.header).toMatch(/^id,/);
    expect(new Set(r.csvIds).size).toBe(r.csvIds.length);
    expect([...r.csvIds].sort()).toEqual(finished.sort());
    expect(r.ndjsonRows).toBe(finished.length);
    const raw = r.manifest.filter((f) => f.key.startsWith(`raw/${h.userId}/`));
    expect(raw.length).toBeGreaterThanOrEqual(stored.length);
    expect(raw.every((f) => /^[0-9a-f]{64}$/.test(f.sha256) && f.size > 0)).toBe(true);
    // Profile, settings and records, stored by the scheduler's first run.
    for (const doc of ['profile', 'settings', 'records']) {
      expect(raw.map((f) => f.key)).toContain(`raw/${h.userId}/${doc}/latest.json`);
    }
    expect(r.nextRunS3).toBe(0);
  }, 60_000);

  it('a new activity is stored, with its derived files and index row', async () => {
    const r = await h.newActivity();
    expect(r.item?.status).toBe('SYNCED');
    expect(r.versions).toHaveLength(1);
    expect(r.derived).toContain(`index/${h.userId}/rows/${r.id}.json`);
    expect(r.derived.some((k) => k.startsWith(`geojson/${h.userId}/`))).toBe(true);
  });

  it('an edited activity becomes a new S3 version', async () => {
    const id = h.finishedIds()[5]!;
    edited.push(id);
    const r = await h.editActivity(id);
    expect(r.before).toHaveLength(1);
    expect(r.after).toHaveLength(2);
    expect(r.item).toMatchObject({ status: 'SYNCED', syncedRev: 2 });
    expect(r.item?.versionId).toBe(r.after.find((v) => !r.before.includes(v)));
  });

  it('a deleted activity is marked DELETED and its bytes are kept', async () => {
    const id = h.finishedIds()[10]!;
    deleted.push(id);
    const r = await h.deleteActivity(id);
    expect(r.item?.status).toBe('DELETED');
    expect(r.versions).toHaveLength(1);
  });

  it('a duplicate delivery is absorbed: one fetch, one S3 version', async () => {
    const r = await h.duplicateDelivery();
    // Both copies were delivered (plus re-checks of items inside the change log's overlap).
    expect(r.drained.delivered).toBeGreaterThanOrEqual(2);
    expect(r.fetches).toBe(1);
    expect(r.item?.status).toBe('SYNCED');
    expect(r.versions).toHaveLength(1);
  });

  it('a crash between the S3 write and the ledger write heals on redelivery', async () => {
    const r = await h.crashAfterPut();
    expect(r.crashed).toBe(1);
    expect(r.drained.failures).toBe(1);
    expect(r.item?.status).toBe('SYNCED');
    expect(r.versions).toHaveLength(1);
  }, 30_000);

  it('a lost message is re-enqueued by the next run after its lease', async () => {
    const r = await h.lostMessage();
    expect(r.removed).toBe(1);
    expect(r.stuckStatus).toBe('ENQUEUED');
    expect(r.runs[0]?.enqueued).toBeGreaterThanOrEqual(1);
    expect(r.item?.status).toBe('SYNCED');
    expect(r.versions).toHaveLength(1);
  }, 30_000);

  it('invariants hold: no loss, no duplicates, budget respected, DLQ empty, no secret logged', async () => {
    const inv = await h.invariants({ deleted, edited });
    expect(inv.notSynced).toEqual([]);
    expect(inv.missing).toEqual([]);
    expect(inv.storedKeys).toBe(inv.expectedKeys);
    expect(inv.duplicateWrites).toEqual([]);
    expect(inv.editedNotVersioned).toEqual([]);
    expect(inv.syncedWithoutObject).toEqual([]);
    expect(inv.maxCallsInWindow).toBeLessThanOrEqual(inv.limit);
    expect(inv.http429).toBe(0);
    expect(inv.dlqDepth).toBe(0);
    expect(inv.logLines).toBeGreaterThan(0);
    expect(inv.leakedSecrets).toBe(0);
  });

  it('de-authorisation (onRevoke=delete) revokes, deletes every version and the ledger, stops calls', async () => {
    const r = await h.deauthorizeAndDelete();
    expect(r.status).toBe(200);
    expect(r.accountStatus).toBe('REVOKED');
    expect(r.tokenStored).toBe(false);
    expect(r.ledgerItems).toBe(0);
    expect(r.objectVersions).toBe(0);
    expect(r.runsAfter).toBe(0);
    expect(r.apiCallsAfter).toBe(0);
  });
});
