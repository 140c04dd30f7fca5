/**
 * `rk-sync demo --push strava`: after the demo backup, the same archive is pushed to a
 * simulated Strava (strava-simulator/) with Strava's default limits (200/2,000 overall,
 * 100/1,000 non-upload) on a faster clock, through the real loopback OAuth flow, push ledger,
 * multi-window budget and upload polling. The simulated Strava lives in memory, so each demo
 * run pushes to a fresh one (the demo's push ledger is reset first).
 */
import { SqlitePushLedger } from '../functions/adapters/local/push.ts';
import { ScaledClock } from '../functions/core/clock.ts';
import type { Log } from '../functions/core/ports.ts';
import { STRAVA_DEFAULT_LIMITS } from '../functions/core/strava/limits.ts';
import { startStravaSimulator } from '../strava-simulator/server.ts';
import { CliError, EXIT } from './errors.ts';
import type { LocalStores } from './local.ts';
import { formatDuration } from './progress.ts';
import { runPush } from './push.ts';
import { linkStravaLocal } from './strava-link.ts';

export interface StravaDemoSummary {
  pushed: number;
  onStrava: number;
  uniqueExternalIds: boolean;
  manual: number;
  failed: number;
  apiCalls: number;
  http429: number;
  peak: { overall15: number; overallDay: number; read15: number; readDay: number };
  limits: typeof STRAVA_DEFAULT_LIMITS;
  virtualSeconds: number;
  elapsedSeconds: number;
  timeScale: number;
  stopped: string;
  exitCode: number;
}

export async function runStravaDemo(o: {
  stores: LocalStores;
  userId: string;
  activities: number;
  durationSeconds: number;
  signal: AbortSignal;
  log: Log;
  announce?: (line: string) => void;
}): Promise<StravaDemoSummary> {
  new SqlitePushLedger(o.stores.db); // creates the table on first use
  o.stores.db.db.exec("DELETE FROM push_ledger WHERE dest = 'strava'");
  // ≈ 2 reads per activity (status poll, mute) against 98 per 15 minutes.
  const estVirtualMs = ((o.activities * 2 + 5) / 98) * 900_000;
  const scale = Math.min(2000, Math.max(1, estVirtualMs / (o.durationSeconds * 1000)));
  const clock = new ScaledClock(scale);
  const sim = await startStravaSimulator({ clock, limits: STRAVA_DEFAULT_LIMITS });
  const realStart = Date.now();
  const virtualStart = clock.now();
  try {
    const app = {
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      oauthBaseUrl: sim.oauthBaseUrl,
      apiBaseUrl: sim.apiBaseUrl,
    };
    await linkStravaLocal(o.stores, {
      userId: o.userId,
      ...app,
      port: 0,
      timeoutMs: 30_000,
      signal: o.signal,
      onUrl: async (url) => {
        const r = await fetch(url, { redirect: 'manual', signal: o.signal });
        await r.body?.cancel();
        const location = r.headers.get('location');
        if (!location) throw new CliError('the Strava simulator did not redirect to the callback');
        await (await fetch(location, { signal: o.signal })).text();
      },
    });
    o.announce?.(
      `rk-sync demo: pushing to a simulated Strava (limits ${STRAVA_DEFAULT_LIMITS.overall.join('/')} overall, ${STRAVA_DEFAULT_LIMITS.read.join('/')} non-upload per 15 min/day) on a clock ×${Math.round(scale)}`,
    );
    const r = await runPush({
      stores: o.stores,
      userId: o.userId,
      clock,
      log: o.log,
      signal: o.signal,
      filter: {},
      dryRun: false,
      mute: true,
      prefer: 'fit',
      limits: STRAVA_DEFAULT_LIMITS,
      app,
      onProgress: o.announce,
    });
    if ('dryRun' in r) throw new Error('unreachable');
    const counts = sim.countByExternalId();
    const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
    return {
      pushed: r.uploaded + r.manual + r.duplicates,
      onStrava: sim.activities().length,
      uniqueExternalIds: [...counts.values()].every((n) => n === 1),
      manual: r.manual,
      failed: r.failed,
      apiCalls: r.apiCalls,
      http429: sim.http429(),
      peak: sim.peakUsage(),
      limits: STRAVA_DEFAULT_LIMITS,
      virtualSeconds: round((clock.now() - virtualStart) / 1000, 0),
      elapsedSeconds: round((Date.now() - realStart) / 1000),
      timeScale: round(scale),
      stopped: r.stopped,
      exitCode: r.stopped === 'done' && r.failed === 0 ? EXIT.ok : EXIT.failed,
    };
  } finally {
    await sim.close();
  }
}

export function describeStravaDemo(s: StravaDemoSummary): string {
  return [
    `rk-sync demo push to Strava ${s.stopped === 'done' ? 'complete' : `stopped (${s.stopped})`}`,
    `  activities:   ${s.pushed} pushed (${s.manual} as manual entries), ${s.onStrava} on the simulated Strava, each external_id once: ${s.uniqueExternalIds ? 'yes' : 'NO'}, ${s.failed} failed`,
    `  API calls:    ${s.apiCalls}, ${s.http429} × HTTP 429; peak usage ${s.peak.overall15}/${s.limits.overall[0]} overall and ${s.peak.read15}/${s.limits.read[0]} non-upload per 15 min, ${s.peak.overallDay}/${s.limits.overall[1]} and ${s.peak.readDay}/${s.limits.read[1]} per day`,
    `  time:         ${s.elapsedSeconds} s real = ${formatDuration(s.virtualSeconds * 1000)} simulated (clock ×${s.timeScale})`,
  ].join('\n');
}
