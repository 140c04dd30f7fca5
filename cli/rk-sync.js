#!/usr/bin/env node
// The rk-sync bin shim (plain JS so any Node can read it). rk-sync runs TypeScript
// directly and uses node:sqlite, so it needs Node >= 22. On an older Node, re-run this
// file with the Node 24 the project installs as a devDependency (node_modules/node).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const major = Number(process.versions.node.split('.')[0]);

if (major >= 22) {
  await import('./main.ts');
} else {
  const root = join(dirname(self), '..');
  const bin = [
    join(root, 'node_modules', 'node', 'bin', 'node'),
    join(root, 'node_modules', '.bin', 'node'),
  ].find((p) => existsSync(p));
  if (!bin || process.env.RK_SYNC_REEXEC === '1') {
    process.stderr.write(
      `rk-sync: needs Node >= 22 (this is ${process.version}); run "npm install" in the rk-sync folder or install Node 24\n`,
    );
    process.exit(2);
  }
  const child = spawn(bin, [self, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, RK_SYNC_REEXEC: '1' },
  });
  // Ctrl-C reaches the child through the terminal's process group: do not die before it.
  process.on('SIGINT', () => {});
  for (const sig of ['SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      child.kill(sig);
    });
  }
  child.on('error', (e) => {
    process.stderr.write(`rk-sync: cannot start ${bin}: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}
