/**
 * A child process for the lock-race test: opens the data directory, says "ready", waits for
 * "go" on stdin, tries to take the sync lock, prints "won" or "refused <exit code>", then
 * holds whatever it got until stdin closes.
 */
import { createInterface } from 'node:readline';
import { openLocal } from '../../cli/local.ts';
import { acquireSyncLock } from '../../cli/lock.ts';

const dir = process.argv[2]!;
const stores = openLocal(dir);
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line !== 'go') return;
  try {
    acquireSyncLock(stores.db, dir);
    process.stdout.write('won\n');
  } catch (e) {
    process.stdout.write(`refused ${(e as { exitCode?: number }).exitCode}\n`);
  }
});
lines.on('close', () => {
  stores.close();
  process.exit(0);
});
