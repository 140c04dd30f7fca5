/**
 * The Strava pusher wired to in-memory adapters and the Strava simulator on a shared manual
 * clock (virtual time, real HTTP over loopback), with an archive of simulated Runkeeper
 * activities (the Health Graph simulator's generator, 300 by default like the demo).
 */
import { MemoryObjectStore } from '../../functions/adapters/memory/index.ts';
import { MemoryBudgetStore } from '../../functions/core/budget.ts';
import { ManualClock } from '../../functions/core/clock.ts';
import { renderFit } from '../../functions/core/export/fit.ts';
import type { Log, ObjectStore } from '../../functions/core/ports.ts';
import { StravaClient } from '../../functions/core/strava/client.ts';
import { MemoryPushLedger } from '../../functions/core/strava/ledger.ts';
import { MultiWindowBudget, type StravaLimits } from '../../functions/core/strava/limits.ts';
import {
  exchangeStravaCode,
  STRAVA_SCOPE,
  type StravaTokenStore,
  type StravaTokens,
  stravaAuthorizeUrl,
} from '../../functions/core/strava/oauth.ts';
import { planPush } from '../../functions/core/strava/plan.ts';
import { type PushOptions, pushToStrava } from '../../functions/core/strava/push.ts';
import { World } from '../../simulator/data.ts';
import {
  type StravaSimOptions,
  type StravaSimulator,
  startStravaSimulator,
} from '../../strava-simulator/server.ts';

export class MemoryStravaTokens implements StravaTokenStore {
  current: StravaTokens | undefined;
  puts = 0;
  async get() {
    return this.current ? { ...this.current } : undefined;
  }
  async put(t: StravaTokens) {
    this.puts++;
    this.current = { ...t };
  }
}

/** Put `n` simulated Runkeeper activities into an archive, as `rk-sync sync` would store them. */
export function simulatedArchive(
  store: ObjectStore,
  n: number,
  seed = 42,
  anchorMs = Date.UTC(2026, 0, 1),
): Promise<string> {
  const world = new World(seed, 1, n, anchorMs);
  const user = world.users[0]!;
  return (async () => {
    for (const item of world.sorted(user, 'fitnessActivities')) {
      const doc = world.detail(user, item, 'http://127.0.0.1', false);
      await store.put(
        `raw/${user.userId}/fitnessActivities/${item.id}.json`,
        Buffer.from(JSON.stringify(doc)),
        'application/json',
      );
    }
    return user.userId;
  })();
}

/** The OAuth dance against the simulator, as the CLI's loopback flow does it. */
export async function linkStrava(sim: StravaSimulator, tokens: StravaTokenStore): Promise<void> {
  const url = stravaAuthorizeUrl(
    { oauthBaseUrl: sim.oauthBaseUrl, clientId: sim.clientId },
    'http://127.0.0.1:1/callback',
    'state-1',
  );
  const r = await fetch(url, { redirect: 'manual' });
  await r.body?.cancel();
  const code = new URL(r.headers.get('location')!).searchParams.get('code')!;
  const t = await exchangeStravaCode(
    { oauthBaseUrl: sim.oauthBaseUrl, clientId: sim.clientId },
    sim.clientSecret,
    code,
  );
  if (!t.scope?.includes('activity:write') || !STRAVA_SCOPE.includes('activity:write')) {
    throw new Error('scope activity:write was not granted');
  }
  await tokens.put(t);
}

export interface StravaHarness {
  sim: StravaSimulator;
  clock: ManualClock;
  store: MemoryObjectStore;
  ledger: MemoryPushLedger;
  tokens: MemoryStravaTokens;
  budgetStore: MemoryBudgetStore;
  userId: string;
  logs: string[];
  /** One push run with fresh client and budget objects over the same stores. */
  push(
    o?: Partial<PushOptions> & { signal?: AbortSignal; limits?: StravaLimits },
  ): ReturnType<typeof pushToStrava>;
  close(): Promise<void>;
}

export async function stravaHarness(
  o: { activities?: number; seed?: number; sim?: StravaSimOptions; start?: number } = {},
): Promise<StravaHarness> {
  const clock = new ManualClock(o.start ?? Date.UTC(2026, 2, 2, 8, 7));
  const sim = await startStravaSimulator({ clock, ...o.sim });
  const store = new MemoryObjectStore();
  const userId = await simulatedArchive(store, o.activities ?? 300, o.seed ?? 42);
  const ledger = new MemoryPushLedger();
  const tokens = new MemoryStravaTokens();
  const budgetStore = new MemoryBudgetStore();
  const logs: string[] = [];
  const log: Log = {
    debug: () => {},
    info: (m) => logs.push(`info ${m}`),
    warn: (m, e) => logs.push(`warn ${m} ${JSON.stringify(e ?? {})}`),
    error: (m, e) => logs.push(`error ${m} ${JSON.stringify(e ?? {})}`),
  };
  await linkStrava(sim, tokens);
  return {
    sim,
    clock,
    store,
    ledger,
    tokens,
    budgetStore,
    userId,
    logs,
    push: async (p = {}) => {
      const budget = new MultiWindowBudget(budgetStore, sim.clientId, p.limits ?? sim.limits);
      const client = new StravaClient({
        app: { oauthBaseUrl: sim.oauthBaseUrl, apiBaseUrl: sim.apiBaseUrl, clientId: sim.clientId },
        clientSecret: async () => sim.clientSecret,
        tokens,
        budget,
        clock,
        log,
        signal: p.signal,
        waitForBudget: true,
      });
      const plan = await planPush(store, userId, new Set());
      return pushToStrava(
        plan,
        {
          client,
          budget,
          ledger,
          store,
          clock,
          log,
          signal: p.signal,
          renderFit: (a) => renderFit(a),
        },
        { userId, mute: true, prefer: 'fit', ...p },
      );
    },
    close: () => sim.close(),
  };
}

/** Plays the browser for a `rk-sync link strava --no-browser` process: open the printed URL, follow the redirect. */
export async function approveLinkInBrowser(
  run: { stderr: () => string },
  timeoutMs = 30_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  const find = () => /(https?:\/\/\S+authorize\S+)/.exec(run.stderr());
  let m = find();
  while (!m && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    m = find();
  }
  if (!m) throw new Error('no authorisation URL printed');
  const r = await fetch(m[1]!, { redirect: 'manual' });
  await r.body?.cancel();
  const cb = await fetch(r.headers.get('location')!);
  if (cb.status !== 200) throw new Error(`callback answered ${cb.status}`);
  await cb.text();
}
