/**
 * `npm run simulator -- --port 0 --users 1 --activities 500 --seed 42 [--time-scale N]
 *   [--rate-limit 100] [--auto-approve]`
 *
 * Prints one JSON line (base URLs, credentials, pre-linked users) on stdout, then serves
 * until SIGTERM/SIGINT.
 */
import { Command, InvalidArgumentError } from 'commander';
import { realClock, type SimClock, scaledClock } from './feeds.ts';
import { startSimulator } from './server.ts';

function int(min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`must be an integer >= ${min}`);
    return n;
  };
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

const program = new Command()
  .name('simulator')
  .description('Runkeeper Health Graph API simulator (loopback only)')
  .option('--port <n>', 'port (0 = ephemeral)', int(0), 0)
  .option('--host <addr>', 'loopback address', '127.0.0.1')
  .option('--users <n>', 'users', int(1), 1)
  .option('--activities <n>', 'fitness activities per user', int(0), 50)
  .option('--seed <n>', 'data seed', int(0), 42)
  .option('--time-scale <n>', 'run the clock N times faster than real time', positive)
  .option('--rate-limit <n>', 'calls per user per window', int(1), 100)
  .option('--window-ms <n>', 'rate-limit window in (simulated) ms', int(1), 900_000)
  .option('--max-page-size <n>', 'largest pageSize served', int(1), 1000)
  .option('--auto-approve', 'authorize without the consent page', false)
  .option('--rate-5xx <p>', 'probability of a random 5xx per API call', Number.parseFloat)
  .option('--deauth-callback-url <url>', 'loopback URL told about de-authorizations');

program.parse();
const o = program.opts<{
  port: number;
  host: string;
  users: number;
  activities: number;
  seed: number;
  timeScale?: number;
  rateLimit: number;
  windowMs: number;
  maxPageSize: number;
  autoApprove: boolean;
  rate5xx?: number;
  deauthCallbackUrl?: string;
}>();

const clock: SimClock = o.timeScale ? scaledClock(o.timeScale) : realClock;
const sim = await startSimulator({
  port: o.port,
  host: o.host,
  users: o.users,
  activities: o.activities,
  seed: o.seed,
  clock,
  rateLimit: { calls: o.rateLimit, windowMs: o.windowMs },
  autoApprove: o.autoApprove,
  maxPageSize: o.maxPageSize,
  ...(o.deauthCallbackUrl ? { deauthCallbackUrl: o.deauthCallbackUrl } : {}),
  ...(o.rate5xx !== undefined ? { faults: { rate5xx: o.rate5xx } } : {}),
});

const first = sim.users[0];
process.stdout.write(
  `${JSON.stringify({
    authBaseUrl: sim.authBaseUrl,
    apiBaseUrl: sim.apiBaseUrl,
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    userId: first?.userId,
    accessToken: first?.accessToken,
    users: sim.users,
  })}\n`,
);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  sim.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
