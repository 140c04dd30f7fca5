/**
 * Strava push throughput against both windows' limits: `npm run bench:strava` (300 and 2,000
 * activities) or `npm run bench:strava -- 300 5000`. Virtual time (manual clock shared with
 * the Strava simulator), real HTTP over loopback, Strava's default limits (200 / 2,000 overall,
 * 100 / 1,000 non-upload per 15 min / day), mute on (one PUT per activity), FIT files.
 * Prints one JSON line per size and a Markdown table for BENCHMARKS.md.
 */
import { stravaHarness } from '../test/helpers/strava-harness.ts';

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const rows: Record<string, number | string>[] = [];
for (const n of sizes.length > 0 ? sizes : [300, 2000]) {
  const h = await stravaHarness({ activities: n });
  const real = performance.now();
  const t0 = h.clock.now();
  const s = await h.push();
  const virtualMs = h.clock.now() - t0;
  const api = h.sim.calls().filter((c) => c.path.startsWith('/api/'));
  const uploads = api.filter((c) => c.method === 'POST').length;
  const reads = api.length - uploads;
  const peak = h.sim.peakUsage();
  const days = virtualMs / 86_400_000;
  const row = {
    activities: n,
    onStrava: h.sim.activities().length,
    duplicates: [...h.sim.countByExternalId().values()].filter((c) => c > 1).length,
    http429: h.sim.http429(),
    apiCalls: api.length,
    uploadCalls: uploads,
    readCalls: reads,
    callsPerActivity: Math.round((api.length / n) * 100) / 100,
    virtualHours: Math.round((virtualMs / 3_600_000) * 10) / 10,
    activitiesPerDay: Math.round(n / Math.max(days, 1 / 96)),
    peakOverall15: peak.overall15,
    peakRead15: peak.read15,
    peakOverallDay: peak.overallDay,
    peakReadDay: peak.readDay,
    failed: s.failed,
    realSeconds: Math.round((performance.now() - real) / 100) / 10,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
  await h.close();
}
console.log(
  [
    '| activities | on Strava | 429s | API calls (upload + read) | per activity | virtual time | activities / day | peak per 15 min: overall / read (limit 200 / 100) | peak per day: overall / read (limit 2,000 / 1,000) | real time |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.activities} | ${r.onStrava} | ${r.http429} | ${r.apiCalls} (${r.uploadCalls} + ${r.readCalls}) | ${r.callsPerActivity} | ${r.virtualHours} h | ${r.activitiesPerDay} | ${r.peakOverall15} / ${r.peakRead15} | ${r.peakOverallDay} / ${r.peakReadDay} | ${r.realSeconds} s |`,
    ),
  ].join('\n'),
);
