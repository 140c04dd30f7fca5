/**
 * The setting shared by the CLI end-to-end suites: a temporary folder of data directories,
 * simulators on a shrunk rate window (30 calls per 2 s, on both sides), and an afterAll that
 * stops every child process and simulator and removes the folder.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../simulator/server.ts';
import { killAllChildren } from './cli.ts';

export const LIMIT = { calls: 30, windowMs: 2_000 };
export const RATE = [
  '--rate-limit',
  String(LIMIT.calls),
  '--rate-window',
  String(LIMIT.windowMs / 1000),
];

export function cliEnv(prefix: string) {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const sims: Simulator[] = [];
  let dirs = 0;
  afterAll(async () => {
    killAllChildren();
    await Promise.all(sims.map((s) => s.close()));
    rmSync(tmp, { recursive: true, force: true });
  });
  return {
    tmp,
    async sim(activities: number, seed = 7, extra: SimulatorOptions = {}): Promise<Simulator> {
      const s = await startSimulator({
        activities,
        seed,
        rateLimit: LIMIT,
        autoApprove: true,
        ...extra,
      });
      sims.push(s);
      return s;
    },
    newDir(): string {
      const d = join(tmp, `data${++dirs}`);
      // Private, as README recommends: a 0755 data directory adds a warning line on stderr
      // (test/integration/local-private.test.ts covers that case).
      mkdirSync(d, { mode: 0o700 });
      return d;
    },
  };
}
