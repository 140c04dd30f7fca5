/**
 * `npm run e2e:local [-- --json] [--activities N]`
 *
 * Runs the deployed design end to end without AWS: starts moto (DynamoDB, S3, SQS, SSM,
 * KMS created from the synthesised stack) and the Health Graph simulator, drives the real
 * Lambda handlers in-process (a local poller stands in for the SQS trigger), prints what
 * happens, stops both. With --json the last line is a JSON summary.
 */
import { parseArgs } from 'node:util';
import { DeployedHarness } from '../test/helpers/deployed-harness.ts';
import { ensurePythonTools } from './python-tools.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    activities: { type: 'string', default: '200' },
    verbose: { type: 'boolean', default: false },
  },
});
const activities = Number(values.activities);
if (!Number.isInteger(activities) || activities < 1 || activities > 5000) {
  console.error('--activities must be an integer between 1 and 5000');
  process.exit(2);
}
ensurePythonTools(['moto']);

const out = (line: string) => process.stdout.write(`${line}\n`);
const h = new DeployedHarness({ activities, progress: out, echoLogs: values.verbose });
const t0 = Date.now();
let failed = false;
const check = (ok: boolean, what: string) => {
  out(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed = true;
};

try {
  out(`rk-sync deployed design, offline: ${activities} activities`);
  await h.start();

  out(
    '1. authorise: rk-sync invite → GET /authorize?invite= → Runkeeper (simulator) → GET /callback',
  );
  const link = await h.link();
  check(
    link.status === 200,
    `linked user ${link.userId}; first sync enqueued ${link.firstRun?.enqueued ?? 0}`,
  );

  out('2. backfill: scheduler → SQS → fetcher → S3, until the ledger says SYNCED');
  const bf = await h.backfill();
  check(
    bf.counts.SYNCED === bf.expected,
    `${bf.counts.SYNCED}/${bf.expected} SYNCED in ${bf.ms} ms (+${bf.live} still recording upstream: stored, fetched again later)`,
  );

  out('3. an idle scheduled run');
  const idle = await h.idleRun();
  check(
    idle.apiCalls === 1 && idle.enqueued === 0,
    `${idle.apiCalls} API call (${idle.paths.join(', ')}), enqueued ${idle.enqueued}, AWS requests ${JSON.stringify(idle.requests)}`,
  );

  out('4. changes upstream');
  const added = await h.newActivity();
  check(added.item?.status === 'SYNCED', `new activity ${added.id} stored`);
  const editId = h.finishedIds()[5]!;
  const edit = await h.editActivity(editId);
  check(edit.after.length === 2, `edited activity ${editId}: ${edit.after.length} S3 versions`);
  const delId = h.finishedIds()[10]!;
  const del = await h.deleteActivity(delId);
  check(
    del.item?.status === 'DELETED' && del.versions.length === 1,
    `deleted activity ${delId}: ledger ${del.item?.status}, bytes kept`,
  );

  out('5. faults');
  const dup = await h.duplicateDelivery();
  check(
    dup.fetches === 1 && dup.versions.length === 1,
    `duplicate delivery: ${dup.drained.delivered} deliveries, ${dup.fetches} fetch, ${dup.versions.length} version`,
  );
  const crash = await h.crashAfterPut();
  check(
    crash.item?.status === 'SYNCED' && crash.versions.length === 1,
    `crash after the S3 write: healed on redelivery, ${crash.versions.length} version`,
  );
  const lost = await h.lostMessage();
  check(
    lost.item?.status === 'SYNCED',
    `lost message: ${lost.stuckStatus} until the lease expired, then re-enqueued and SYNCED`,
  );

  out('6. invariants');
  const inv = await h.invariants({ deleted: [delId], edited: [editId] });
  check(
    inv.notSynced.length === 0 && inv.missing.length === 0,
    `INV-LOSS: ${inv.activities} activities all stored; SYNCED except ${inv.stillRecording} still recording`,
  );
  check(
    inv.duplicateWrites.length === 0 &&
      inv.editedNotVersioned.length === 0 &&
      inv.storedKeys === inv.expectedKeys,
    `INV-DUP: ${inv.storedKeys} keys, one per activity; no version repeats its predecessor's bytes`,
  );
  check(
    inv.maxCallsInWindow <= inv.limit && inv.http429 === 0,
    `INV-BUDGET: max ${inv.maxCallsInWindow}/${inv.limit} calls per window, ${inv.http429} × 429`,
  );
  check(inv.dlqDepth === 0, 'INV-DLQ: dead-letter queue empty');
  check(
    inv.leakedSecrets === 0,
    `INV-SECRET: no token/secret/code/state in ${inv.logLines} log lines`,
  );

  const apiCalls = h.sim.callLog.filter((r) => r.userId === h.userId).length;
  const summary = {
    activities: inv.activities,
    stillRecording: inv.stillRecording,
    stored: inv.storedKeys,
    synced: (await h.counts()).SYNCED,
    apiCalls,
    http429: inv.http429,
    maxCallsInWindow: inv.maxCallsInWindow,
    rateLimit: `${h.opts.rateLimitCalls}/${h.opts.rateLimitWindowSeconds}s`,
    idleRunCalls: idle.apiCalls,
    idleRunEnqueued: idle.enqueued,
    idleRunRequests: {
      DynamoDB: idle.requests.DynamoDB ?? 0,
      S3: idle.requests.S3 ?? 0,
      SQS: idle.requests.SQS ?? 0,
      SSM: idle.requests.SSM ?? 0,
      detail: Object.fromEntries(Object.entries(idle.requests).filter(([k]) => k.includes(':'))),
    },
    schedulerRuns: bf.runs.length,
    durationsMs: { ...h.timings, total: Date.now() - t0 },
    ok: !failed,
  };
  const x7 = await h.deauthorizeAndDelete();
  check(
    x7.accountStatus === 'REVOKED' && x7.objectVersions === 0 && x7.apiCallsAfter === 0,
    'de-authorisation (onRevoke=delete): revoked, data deleted, no further calls',
  );
  summary.ok = !failed;
  out(failed ? 'FAILED' : 'all checks passed');
  if (values.json) out(JSON.stringify(summary));
} catch (e) {
  failed = true;
  out(`FAILED: ${(e as Error).stack ?? String(e)}`);
} finally {
  await h.stop();
}
process.exit(failed ? 1 : 0);
