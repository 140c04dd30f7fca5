/**
 * Issue #12 against the simulator as a hostile API:
 * - X15: one item answering 403 (or 401) no longer parks the whole account as REVOKED: the
 *   fetcher asks /user first; only a refusal there parks it.
 * - X16: an upstream reason that quotes our Authorization header (or any token) is redacted
 *   in every logged error, in the ledger's failure reason and in error messages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describeError } from '../../functions/core/errors.ts';
import { redactSecrets } from '../../functions/core/redact.ts';
import { driveLocalSync } from '../../functions/core/sync/driver.ts';
import { runScheduler } from '../../functions/core/sync/scheduler.ts';
import { safeError } from '../../functions/shared/platform.ts';
import { type CoreHarness, coreHarness, storedIds } from '../helpers/core-harness.ts';

let h: CoreHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const userCalls = (hh: CoreHarness) => hh.sim.callLog.filter((c) => c.path === '/user').length;

describe('X15: a 403 on one item is confirmed with /user before the account is parked', () => {
  it('403 or 401 on one item while /user works: that item FAILED, the account stays ACTIVE', async () => {
    h = await coreHarness({ sim: { activities: 8, seed: 21 } });
    const userId = h.sim.users[0]!.userId;
    const [forbidden, unauthorised] = h.sim.activityIds(userId);
    for (const [id, status] of [
      [forbidden, 403],
      [unauthorised, 401],
    ] as const) {
      h.sim.faults.push({
        match: `/fitnessActivities/${id}`,
        kind: 'status',
        status,
        times: 100,
        body: JSON.stringify({ reason: 'Forbidden' }),
      });
    }
    await runScheduler(h.deps, h.cfg, userId);
    const before = userCalls(h);
    await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    expect((await h.accounts.get(userId))?.status).toBe('ACTIVE');
    // One /user confirmation per refused item, no more.
    expect(userCalls(h) - before).toBe(2);
    for (const id of [forbidden!, unauthorised!]) {
      const item = await h.ledger.get(userId, 'fitnessActivities', id);
      expect(item?.status).toBe('FAILED');
    }
    const stored = await storedIds(h.store, userId);
    expect(stored).toHaveLength(h.sim.activityIds(userId).length - 2);
    expect(h.sim.http429()).toBe(0);
  });

  it('when /user refuses too, the account is parked as before', async () => {
    h = await coreHarness({ sim: { activities: 5, seed: 22 } });
    const userId = h.sim.users[0]!.userId;
    await runScheduler(h.deps, h.cfg, userId);
    h.sim.faults.push({
      match: /^\/(fitnessActivities\/\d+|user)$/,
      kind: 'status',
      status: 403,
      times: 100,
    });
    await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    expect((await h.accounts.get(userId))?.status).toBe('REVOKED');
    const after = h.sim.callLog.length;
    await runScheduler(h.deps, h.cfg, userId);
    expect(h.sim.callLog.length).toBe(after);
  });
});

describe('X16: token-shaped text in upstream errors is redacted everywhere it is logged', () => {
  it('a reason quoting the Authorization header reaches no log, ledger reason or message', async () => {
    h = await coreHarness({ sim: { activities: 6, seed: 23 } });
    const userId = h.sim.users[0]!.userId;
    const token = h.sim.users[0]!.accessToken;
    const [a, b, c] = h.sim.activityIds(userId);
    const quoting = `Invalid request headers: Authorization: Bearer ${token}; access_token=${token}`;
    h.sim.faults.push(
      {
        match: `/fitnessActivities/${a}`,
        kind: 'status',
        status: 403,
        times: 100,
        body: JSON.stringify({ reason: quoting }),
      },
      {
        match: `/fitnessActivities/${b}`,
        kind: 'status',
        status: 422,
        times: 100,
        contentType: 'text/plain',
        body: `echo: {"authorization":"Bearer ${token}"} token ${token}`,
      },
      {
        match: `/fitnessActivities/${c}`,
        kind: 'status',
        status: 400,
        times: 100,
        body: JSON.stringify({ error: `bad token ${token}` }),
      },
    );
    await runScheduler(h.deps, h.cfg, userId);
    await driveLocalSync(h.deps, h.queue, h.cfg, [userId]);
    const failed = await h.ledger.list(userId, 'FAILED');
    expect(failed.map((i) => i.id).sort()).toEqual([a, b, c].sort());
    const everything = JSON.stringify({ logs: h.logs, failed });
    expect(everything).toContain('[redacted]');
    expect(everything).not.toContain(token);
    expect(everything).not.toMatch(/Bearer (?!\[redacted\])/);
  });

  it('the rules: secrets go, ids, paths and words stay', () => {
    const tok = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6';
    expect(redactSecrets(`Authorization: Bearer ${tok}`)).toBe('Authorization: Bearer [redacted]');
    expect(redactSecrets(`{"access_token":"${tok}","x":1}`)).toBe(
      '{"access_token":"[redacted]","x":1}',
    );
    expect(redactSecrets('client_secret=s3cr3t&code=abcdef123456')).toBe(
      'client_secret=[redacted]&code=[redacted]',
    );
    // Short values of generic names are diagnostics, not credentials.
    expect(redactSecrets('status code: 500, state=open')).toBe('status code: 500, state=open');
    expect(redactSecrets(`stray ${tok} here`)).toBe('stray [redacted] here');
    const plain = 'not found (404): /fitnessActivities/1234567890 for user 98765, raw/1/x.json';
    expect(redactSecrets(plain)).toBe(plain);
    const err = new Error(`upstream said Bearer ${tok}`);
    expect(describeError(err)).not.toContain(tok);
    expect(safeError(Object.assign(new Error('x'), { name: `Bad ${tok}` }))).not.toContain(tok);
  });
});
