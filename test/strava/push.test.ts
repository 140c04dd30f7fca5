import { afterEach, describe, expect, it } from 'vitest';
import { type StravaHarness, stravaHarness } from '../helpers/strava-harness.ts';

let h: StravaHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('push to Strava (simulator, virtual time)', () => {
  it('lands every activity of the 300-activity archive exactly once, 0 × 429, and a second run is a no-op', async () => {
    h = await stravaHarness({ activities: 300 });
    const s = await h.push();
    expect(s.stopped).toBe('done');
    expect(s.failed).toBe(0);
    const acts = h.sim.activities();
    expect(acts).toHaveLength(300);
    const byExt = h.sim.countByExternalId();
    expect([...byExt.values()].every((n) => n === 1)).toBe(true);
    expect(h.sim.http429()).toBe(0);
    const peak = h.sim.peakUsage();
    expect(peak.read15).toBeLessThanOrEqual(h.sim.limits.read[0]);
    expect(peak.overall15).toBeLessThanOrEqual(h.sim.limits.overall[0]);
    expect(acts.every((a) => a.hide_from_home === true)).toBe(true);

    const callsBefore = h.sim.calls().length;
    const again = await h.push();
    expect(again.alreadyDone).toBe(300);
    expect(again.apiCalls).toBe(0);
    expect(h.sim.calls().length).toBe(callsBefore);
    expect(h.sim.activities()).toHaveLength(300);
  }, 300_000);
});
