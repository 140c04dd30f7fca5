/**
 * Spawning the real `rk-sync` process (node cli/main.ts) in tests, on loopback only.
 * Every child is tracked so `killAllChildren()` in afterAll leaves nothing running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export const ROOT = join(import.meta.dirname, '..', '..');
export const MAIN = join(ROOT, 'cli', 'main.ts');

const children = new Set<ChildProcess>();

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnCli(args: string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = spawnCli(args, env);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), timeoutMs);
  const { code } = await r.exited;
  clearTimeout(timer);
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

export function killAllChildren(): void {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
}

/** Poll `check` every `everyMs` until it returns true, at most `timeoutMs`. */
export async function waitFor(
  check: () => boolean,
  timeoutMs = 20_000,
  everyMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error('waitFor: condition not met in time');
}

/** Raw activity files (`{id}.json`) of a user in a data directory. */
export function rawActivityFiles(dataDir: string, userId: string): string[] {
  try {
    return readdirSync(join(dataDir, 'raw', userId, 'fitnessActivities'))
      .filter((f) => /^\d+\.json$/.test(f))
      .sort();
  } catch {
    return [];
  }
}

/** Every file under a directory, relative, recursively (hidden ones included). */
export function allFiles(dir: string, base = ''): string[] {
  let out: string[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(join(dir, base), { withFileTypes: true });
  } catch {
    return [];
  }
  for (const e of entries) {
    const rel = base ? `${base}/${e.name}` : e.name;
    if (e.isDirectory()) out = out.concat(allFiles(dir, rel));
    else out.push(rel);
  }
  return out;
}

/** Ledger rows read straight from the state database (read-only). */
export function ledgerRows(
  dataDir: string,
): { userId: string; feed: string; id: string; status: string; lastError?: string }[] {
  const db = new DatabaseSync(join(dataDir, '.rk-sync', 'state.db'), { readOnly: true });
  try {
    return db
      .prepare('SELECT user_id, feed, id, status, data FROM ledger')
      .all()
      .map((r) => {
        const data = JSON.parse(String(r.data)) as { lastError?: string };
        return {
          userId: String(r.user_id),
          feed: String(r.feed),
          id: String(r.id),
          status: String(r.status),
          ...(data.lastError ? { lastError: data.lastError } : {}),
        };
      });
  } finally {
    db.close();
  }
}

/** Play the browser: follow the authorize URL (auto-approve) to the loopback callback. */
export async function completeBrowserFlow(authorizeUrl: string): Promise<number> {
  const r = await fetch(authorizeUrl, { redirect: 'manual' });
  await r.body?.cancel();
  const location = r.headers.get('location');
  if (!location) throw new Error(`authorize did not redirect (${r.status})`);
  const cb = await fetch(location);
  await cb.text();
  return cb.status;
}

/** `rk-sync auth` against a simulator, waiting for the browser; resolves once it printed the URL. */
export async function spawnAuth(
  s: { clientId: string; clientSecret: string; authBaseUrl: string; apiBaseUrl: string },
  dataDir: string,
  extra: string[] = [],
): Promise<{ run: CliRun; url: string }> {
  const run = spawnCli(
    [
      'auth',
      '--data-dir',
      dataDir,
      '--no-browser',
      '--port',
      '0',
      '--client-id',
      s.clientId,
      '--auth-base-url',
      s.authBaseUrl,
      '--api-base-url',
      s.apiBaseUrl,
      ...extra,
    ],
    { RK_CLIENT_SECRET: s.clientSecret },
  );
  await waitFor(() => /http:\/\/\S+\/apps\/authorize\S*/.test(run.stderr()), 15_000);
  return { run, url: /http:\/\/\S+\/apps\/authorize\S*/.exec(run.stderr())![0] };
}
