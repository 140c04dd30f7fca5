/**
 * `rk-sync demo`: the whole product against the in-process Health Graph simulator.
 * The simulator enforces the real limit (100 calls per 900 s per user) on a clock that
 * runs `scale` times faster, shared with the client, so a backfill that would take an
 * hour finishes in well under a minute, through the same OAuth flow, budget, planner and
 * fetcher as a real sync. The virtual time is persisted, so a rerun after a kill resumes.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ScaledClock } from '../functions/core/clock.ts';
import type { Log } from '../functions/core/ports.ts';
import { startSimulator } from '../simulator/server.ts';
import { authorize } from './auth.ts';
import { CliError, EXIT } from './errors.ts';
import type { LocalStores } from './local.ts';
import { runnable } from './next-step.ts';
import type { ProgressMode, Reporter } from './progress.ts';
import { formatDuration } from './progress.ts';
import { ensureLocalReport } from './report.ts';
import { isStillRecording, runSync, type SyncSummary } from './sync.ts';

export const DEMO_LIMIT = { calls: 100, windowMs: 900_000 };

export interface DemoOptions {
  stores: LocalStores;
  activities: number;
  seed: number;
  /** Target real duration in seconds (chooses the time scale). */
  durationSeconds: number;
  /** Force a time scale instead. */
  timeScale?: number | undefined;
  signal: AbortSignal;
  log: Log;
  progress: ProgressMode;
  reporterRef?: { current?: Reporter };
  /** Printed before the sync starts (human mode). */
  announce?: (line: string) => void;
}

export interface DemoSummary {
  activities: number;
  /** Activities with a raw file on disk. */
  stored: number;
  /** Ledger items SYNCED (a live activity is stored but fetched again later). */
  synced: number;
  /** Stored while still being recorded (is_live): a later sync fetches them again. */
  stillRecording: number;
  apiCalls: number;
  http429: number;
  maxCallsInWindow: number;
  callsPerActivity: number;
  elapsedSeconds: number;
  virtualSeconds: number;
  idealVirtualSeconds: number;
  utilization: number;
  timeScale: number;
  seed: number;
  userId: string;
  dataDir: string;
  stopped: SyncSummary['stopped'];
  exitCode: number;
}

/** The latest virtual time this data directory has seen (budget timestamps, saved clock). */
function lastVirtualTime(stores: LocalStores): number {
  let t = Number(stores.db.getMeta('demo_clock') ?? 0) || 0;
  for (const r of stores.db.db.prepare('SELECT state FROM budget').all()) {
    try {
      const s = JSON.parse(String(r.state)) as { calls?: number[]; blockedUntil?: number };
      for (const c of s.calls ?? []) t = Math.max(t, c);
    } catch {
      // an unreadable budget row only loses this estimate
    }
  }
  return t;
}

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const { stores } = o;
  const seedMeta = stores.db.getMeta('demo_seed');
  if (seedMeta === undefined && (await stores.accounts.list()).length > 0) {
    throw new CliError(
      `${stores.dataDir} holds a real backup; the demo needs its own --data-dir`,
      EXIT.usage,
    );
  }
  if (seedMeta !== undefined && seedMeta !== String(o.seed)) {
    throw new CliError(
      `${stores.dataDir} holds a demo made with --seed ${seedMeta}; use that seed or another --data-dir`,
      EXIT.usage,
    );
  }
  stores.db.setMeta('demo_seed', String(o.seed));

  // Virtual time never goes backwards across runs (the budget remembers earlier calls).
  const origin = Math.max(Date.now(), lastVirtualTime(stores) + 1_000);
  const already = (await stores.accounts.list()).length
    ? (await stores.ledger.counts((await stores.accounts.list())[0]!.userId)).SYNCED
    : 0;
  const capacity = DEMO_LIMIT.calls - 2;
  const estCalls = Math.max(0, o.activities - already) + Math.ceil(o.activities / 100) + 8;
  const estVirtualMs = (estCalls * (DEMO_LIMIT.windowMs + 1_000)) / capacity;
  const scale =
    o.timeScale ?? Math.min(500, Math.max(1, estVirtualMs / (o.durationSeconds * 1000)));
  const clock = new ScaledClock(scale, origin);

  const sim = await startSimulator({
    port: 0,
    users: 1,
    activities: o.activities,
    seed: o.seed,
    clock,
    rateLimit: DEMO_LIMIT,
    autoApprove: true,
  });
  const realStart = Date.now();
  const virtualStart = clock.now();
  try {
    // The real loopback OAuth flow; the simulator approves at once, and we play the browser.
    const { userId } = await authorize(stores, {
      authBaseUrl: sim.authBaseUrl,
      apiBaseUrl: sim.apiBaseUrl,
      clientId: sim.clientId,
      clientSecret: async () => sim.clientSecret,
      port: 0,
      timeoutMs: 30_000,
      clock,
      signal: o.signal,
      rateLimit: DEMO_LIMIT.calls,
      rateWindowSeconds: DEMO_LIMIT.windowMs / 1000,
      onUrl: async (url) => {
        const r = await fetch(url, { redirect: 'manual', signal: o.signal });
        await r.body?.cancel();
        const location = r.headers.get('location');
        if (!location) throw new CliError('the simulator did not redirect to the callback');
        const cb = await fetch(location, { signal: o.signal });
        await cb.text();
      },
    });
    o.announce?.(
      `rk-sync demo: ${o.activities} activities (seed ${o.seed}), limit ${DEMO_LIMIT.calls} calls per 15 min on a clock ×${Math.round(scale)}, into ${stores.dataDir}`,
    );

    const summary = await runSync({
      stores,
      apiBaseUrl: sim.apiBaseUrl,
      clock,
      rateLimit: DEMO_LIMIT.calls,
      rateWindowSeconds: DEMO_LIMIT.windowMs / 1000,
      feeds: ['fitnessActivities'],
      comments: false,
      signal: o.signal,
      log: o.log,
      progress: o.progress,
      command: 'demo',
      onTick: () => stores.db.setMeta('demo_clock', String(clock.now())),
      ...(o.reporterRef ? { reporterRef: o.reporterRef } : {}),
    });
    stores.db.setMeta('demo_clock', String(clock.now()));
    await ensureLocalReport(stores, userId, o.log);

    const apiCalls = sim.callLog.filter((c) => !c.path.startsWith('/apps/')).length;
    const activities = sim.activityIds(userId).length;
    const virtualSeconds = (clock.now() - virtualStart) / 1000;
    const ideal = (apiCalls / DEMO_LIMIT.calls) * (DEMO_LIMIT.windowMs / 1000);
    let storedFiles = 0;
    try {
      storedFiles = readdirSync(join(stores.dataDir, 'raw', userId, 'fitnessActivities')).filter(
        (f) => /^\d+\.json$/.test(f),
      ).length;
    } catch {
      storedFiles = 0;
    }
    const stillRecording = (await stores.ledger.list(userId, 'PENDING')).filter(
      isStillRecording,
    ).length;
    const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
    return {
      activities,
      stored: storedFiles,
      synced: summary.stored,
      stillRecording,
      apiCalls,
      http429: sim.http429(),
      maxCallsInWindow: sim.maxCallsInWindow(userId),
      callsPerActivity: round(apiCalls / Math.max(1, activities), 3),
      elapsedSeconds: round((Date.now() - realStart) / 1000, 1),
      virtualSeconds: round(virtualSeconds, 0),
      idealVirtualSeconds: round(ideal, 0),
      utilization: virtualSeconds > 0 ? round(ideal / virtualSeconds, 3) : 0,
      timeScale: round(scale, 1),
      seed: o.seed,
      userId,
      dataDir: stores.dataDir,
      stopped: summary.stopped,
      exitCode: summary.exitCode,
    };
  } finally {
    await sim.close();
  }
}

export function describeDemo(d: DemoSummary): string {
  const recording =
    d.stillRecording > 0
      ? `: ${d.synced} complete, ${d.stillRecording} still being recorded (stored as they are now; a later sync fetches them again, so status lists them as pending)`
      : '';
  // The floor: B calls per window, the first window at once (a burst), so n calls need
  // ⌊(n − 1) / B⌋ further windows. Said as a duration, never as a share of the limit.
  const perWindow = DEMO_LIMIT.calls - 2;
  const fastest =
    Math.floor(Math.max(0, d.apiCalls - 1) / perWindow) * (DEMO_LIMIT.windowMs / 1000);
  const pace =
    d.stopped === 'done'
      ? `the limit allows these ${d.apiCalls} calls in ${formatDuration(fastest * 1000)} at best (${perWindow} per 15-minute window, the first at once); this run took ${formatDuration(d.virtualSeconds * 1000)}`
      : `stopped after ${d.apiCalls} calls; never more than ${d.maxCallsInWindow} in any 15-minute window (limit ${DEMO_LIMIT.calls})`;
  return [
    `rk-sync demo ${d.stopped === 'done' ? 'complete' : `stopped (${d.stopped}); run it again to resume`}`,
    `  activities:   ${d.activities} in the simulator (seed ${d.seed}), ${d.stored} stored${recording} (files under ${join(d.dataDir, 'raw', d.userId, 'fitnessActivities')})`,
    `  API calls:    ${d.apiCalls} (${d.callsPerActivity} per activity), ${d.http429} × HTTP 429, at most ${d.maxCallsInWindow} calls in any 15-minute window (limit ${DEMO_LIMIT.calls})`,
    `  time:         ${d.elapsedSeconds} s real = ${formatDuration(d.virtualSeconds * 1000)} simulated (clock ×${d.timeScale})`,
    `  pace:         ${pace}`,
    `  next:         ${runnable('status', d.dataDir)}`,
    `  report:       ${join(d.dataDir, 'report', d.userId, 'index.html')}`,
  ].join('\n');
}
