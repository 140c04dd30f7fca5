/**
 * The sync core wired to in-memory adapters and the simulator on a shared manual clock:
 * virtual time, real HTTP over loopback. Used by core tests and the simulation/benchmark.
 */
import {
  MemoryAccountStore,
  MemoryLedger,
  MemoryObjectStore,
  MemoryQueue,
  MemoryTokenStore,
} from '../../functions/adapters/memory/index.ts';
import { type BudgetConfig, budgetKey, memoryBudget } from '../../functions/core/budget.ts';
import { ManualClock } from '../../functions/core/clock.ts';
import { HealthGraphClient, type RetryPolicy } from '../../functions/core/healthgraph/client.ts';
import { fetchMedia } from '../../functions/core/healthgraph/media.ts';
import type { Account, Log } from '../../functions/core/ports.ts';
import { defaultSyncConfig, type SyncConfig } from '../../functions/core/sync/config.ts';
import type { FetcherDeps } from '../../functions/core/sync/fetcher.ts';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../simulator/server.ts';

export interface CoreHarness {
  sim: Simulator;
  clock: ManualClock;
  deps: FetcherDeps;
  ledger: MemoryLedger;
  accounts: MemoryAccountStore;
  store: MemoryObjectStore;
  queue: MemoryQueue;
  cfg: SyncConfig;
  logs: string[];
  close(): Promise<void>;
}

export async function coreHarness(
  o: {
    sim?: SimulatorOptions;
    budget?: Partial<BudgetConfig>;
    sync?: Partial<SyncConfig>;
    retry?: RetryPolicy;
  } = {},
): Promise<CoreHarness> {
  const clock = new ManualClock(Date.UTC(2026, 10, 1, 12));
  const limit = o.sim?.rateLimit ?? { calls: 100, windowMs: 900_000 };
  const sim = await startSimulator({ activities: 50, ...o.sim, clock, rateLimit: limit });
  const budget = memoryBudget({ limit: limit.calls, windowMs: limit.windowMs, ...o.budget });
  const ledger = new MemoryLedger();
  const accounts = new MemoryAccountStore();
  const tokens = new MemoryTokenStore();
  const store = new MemoryObjectStore();
  const queue = new MemoryQueue(() => clock.now());
  const logs: string[] = [];
  const log: Log = {
    debug: (m, e) => logs.push(`debug ${m} ${JSON.stringify(e ?? {})}`),
    info: (m, e) => logs.push(`info ${m} ${JSON.stringify(e ?? {})}`),
    warn: (m, e) => logs.push(`warn ${m} ${JSON.stringify(e ?? {})}`),
    error: (m, e) => logs.push(`error ${m} ${JSON.stringify(e ?? {})}`),
  };
  const deps: FetcherDeps = {
    clock,
    budget,
    ledger,
    accounts,
    tokens,
    store,
    queue,
    log,
    media: (url) =>
      fetchMedia(url, { extraOrigins: [new URL(sim.apiBaseUrl).origin], onlyExtraOrigins: true }),
    api: (token, userId) =>
      new HealthGraphClient(
        { apiBaseUrl: sim.apiBaseUrl, timeoutMs: 2_000 },
        { token, budget, budgetKey: budgetKey(userId), clock, log, retry: o.retry },
      ),
  };
  for (const u of sim.users) {
    await tokens.put(u.userId, u.accessToken);
    const acct: Account = {
      userId: u.userId,
      status: 'ACTIVE',
      linkedAt: clock.now(),
      resources: {},
      discoveredAt: 0,
      cursors: {},
      version: 0,
    };
    await accounts.save(acct);
  }
  const cfg = defaultSyncConfig({ limit: limit.calls, windowMs: limit.windowMs }, o.sync);
  return { sim, clock, deps, ledger, accounts, store, queue, cfg, logs, close: () => sim.close() };
}

/** Activity ids stored under raw/ for a user. */
export async function storedIds(store: MemoryObjectStore, userId: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of store.list(`raw/${userId}/fitnessActivities/`)) {
    const m = /\/(\d+)\.json$/.exec(k);
    if (m) out.push(m[1]!);
  }
  return out.sort();
}
