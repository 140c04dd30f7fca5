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
  /** Peak RSS during the sync phase (everything held in the in-memory store). */
  syncPeakRssMb: number;
  renderActivities: number;
  renderPointsPerActivity: number;
  renderActivitiesPerSecond: number;
  /** Peak RSS while rendering (one activity at a time, files written to a store). */
  renderPeakRssMb: number;
  baselineRssMb: number;
}

export function bigActivity(id: number, points: number): Record<string, unknown> {
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
  const mb = (n: number) => Math.round(n / 1024 / 1024);
  (globalThis as { gc?: () => void }).gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 20);
  try {
    // Rendering first, one activity at a time, written to a store that drops the bytes (a disk
    // or S3 in real use), so the figure is the renderer's own footprint.
    const sink = new MemoryObjectStore();
    let written = 0;
    const store = {
      put: async (_k: string, b: Uint8Array) => {
        written += b.byteLength;
        return { written: true };
      },
      get: sink.get.bind(sink),
      hash: sink.hash.bind(sink),
      list: sink.list.bind(sink),
    };
    const t1 = performance.now();
    for (let i = 0; i < renderN; i++) {
      await writeDerived(store, '1', bigActivity(100 + i, 10_000));
      sample();
    }
    const renderSec = (performance.now() - t1) / 1000;
    const renderPeak = peak;
    if (written === 0) throw new Error('nothing rendered');

    peak = process.memoryUsage().rss;
    const h = await coreHarness({
      sim: { activities: syncN, seed: 9, rateLimit: { calls: 1e9, windowMs: 900_000 } },
    });
    const userId = h.sim.users[0]!.userId;
    h.deps.onStored = derivedHook(h.store, silentLog);
    const t0 = performance.now();
    await driveLocalSync(h.deps, h.queue, { ...h.cfg, spacingMs: 0 }, [userId]);
    const syncSec = (performance.now() - t0) / 1000;
    await h.close();
    return {
      syncActivities: syncN,
      syncActivitiesPerSecond: Math.round((syncN / syncSec) * 10) / 10,
      syncPeakRssMb: mb(peak),
      renderActivities: renderN,
      renderPointsPerActivity: 10_000,
      renderActivitiesPerSecond: Math.round((renderN / renderSec) * 100) / 100,
      renderPeakRssMb: mb(renderPeak),
      baselineRssMb: mb(baseline),
    };
  } finally {
    clearInterval(timer);
  }
}
