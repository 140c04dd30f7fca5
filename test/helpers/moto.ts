/**
 * Starts a moto server (AWS emulator) on a free loopback port and stops it again.
 * One server per test file; tests use unique resource names, so they never interfere.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface Moto {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function python(): string {
  return process.env.PYTHON ?? 'python3';
}

export async function startMoto(opts: { timeoutMs?: number } = {}): Promise<Moto> {
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(python(), ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 8192) stderr += d.toString('utf8');
    });
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const endpoint = `http://127.0.0.1:${port}`;
    while (Date.now() < deadline && !exited) {
      try {
        const r = await fetch(`${endpoint}/moto-api/data.json`, {
          signal: AbortSignal.timeout(1000),
        });
        await r.body?.cancel();
        if (r.ok) return { endpoint, port, stop: () => stopChild(child) };
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await stopChild(child);
    if (!exited || Date.now() >= deadline) {
      throw new Error(`moto server did not start within the time limit: ${stderr.slice(-500)}`);
    }
    // Exited early (port taken between probe and bind): try another port.
  }
  throw new Error('moto server could not be started');
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await done;
  clearTimeout(timer);
}
