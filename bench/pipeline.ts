/**
 * Local throughput with the rate limit lifted: the full pipeline (HTTP fetch from the
 * simulator, raw write, GPX/TCX/GeoJSON/index rendering) in-process, and the derived-format
 * renderer alone on activities of 10,000 points, with peak memory.
 */
import { MemoryObjectStore } from '../functions/adapters/memory/index.ts';
import { derivedHook, writeDerived } from '../functions/core/export/derive.ts';
import { silentLog } from '../functions/core/ports.ts';
import { driveLocalSync } from '../functions/core/sync/driver.ts';
import { coreHarness } from '../test/helpers/core-harness.ts';

export interface PipelineResult {
  syncActivities: number;
  syncActivitiesPerSecond: number;
  renderActivities: number;
  renderPointsPerActivity: number;
  renderActivitiesPerSecond: number;
  peakRssMb: number;
}

function bigActivity(id: number, points: number): Record<string, unknown> {
  const path = [];
  const hr = [];
  const dist = [];
  for (let i = 0; i < points; i++) {
    const t = i;
    const type =
      i === 0
        ? 'start'
        : i === points - 1
          ? 'end'
          : i === 4000
            ? 'pause'
            : i === 4001
              ? 'resume'
              : 'gps';
    path.push({
      timestamp: t,
      latitude: 52.37 + i * 1e-5,
      longitude: 4.89 + Math.sin(i / 200) * 1e-3,
      altitude: 2 + (i % 50) / 10,
      type,
    });
    hr.push({ timestamp: t, heart_rate: 120 + (i % 40) });
    dist.push({ timestamp: t, distance: i * 2.8 });
  }
  return {
    uri: `/fitnessActivities/${id}`,
    userID: 1,
    type: 'Running',
    start_time: 'Tue, 5 Mar 2024 07:15:00',
    utc_offset: 1,
    total_distance: points * 2.8,
    duration: points - 1,
    total_calories: 900,
    average_heart_rate: 140,
    notes: 'Long run 🏃 — Über den Deich',
    path,
    heart_rate: hr,
    distance: dist,
    calories: [],
    images: [],
  };
}

export async function pipeline(syncN: number, renderN: number): Promise<PipelineResult> {
  let peak = process.memoryUsage().rss;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 20);
  try {
    const h = await coreHarness({
      sim: { activities: syncN, seed: 9, rateLimit: { calls: 1e9, windowMs: 900_000 } },
    });
    const userId = h.sim.users[0]!.userId;
    h.deps.onStored = derivedHook(h.store, silentLog);
    const t0 = performance.now();
    await driveLocalSync(h.deps, h.queue, { ...h.cfg, spacingMs: 0 }, [userId]);
    const syncSec = (performance.now() - t0) / 1000;
    await h.close();

    const store = new MemoryObjectStore();
    const acts = Array.from({ length: renderN }, (_, i) => bigActivity(100 + i, 10_000));
    const t1 = performance.now();
    for (const a of acts) {
      await writeDerived(store, '1', a);
      sample();
    }
    const renderSec = (performance.now() - t1) / 1000;
    return {
      syncActivities: syncN,
      syncActivitiesPerSecond: Math.round((syncN / syncSec) * 10) / 10,
      renderActivities: renderN,
      renderPointsPerActivity: 10_000,
      renderActivitiesPerSecond: Math.round((renderN / renderSec) * 100) / 100,
      peakRssMb: Math.round(peak / 1024 / 1024),
    };
  } finally {
    clearInterval(timer);
  }
}
