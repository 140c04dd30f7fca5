/**
 * System tools the tests drive: xmllint (Debian package libxml2-utils) validates every
 * rendered GPX and TCX against the official XSDs vendored under test/schemas/. Installed
 * with apt-get when missing (CI runs as root); a failure to install is loud.
 */
import { spawnSync } from 'node:child_process';

const TOOLS: Record<string, { check: string[]; apt: string }> = {
  xmllint: { check: ['xmllint', '--version'], apt: 'libxml2-utils' },
};

const present = (check: string[]) =>
  spawnSync(check[0]!, check.slice(1), { stdio: 'ignore' }).status === 0;

export function ensureSystemTools(names: string[]): void {
  for (const name of names) {
    const t = TOOLS[name];
    if (!t) throw new Error(`unknown tool ${name}`);
    if (present(t.check)) continue;
    console.error(`[rk-sync] ${name} is missing; installing ${t.apt} with apt-get...`);
    const root = process.getuid?.() === 0;
    const run = (args: string[]) => {
      const [cmd, ...rest] = root ? args : ['sudo', '-n', ...args];
      return spawnSync(cmd!, rest, {
        stdio: 'inherit',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    };
    run(['apt-get', 'update', '-qq']);
    run(['apt-get', 'install', '-y', '-qq', t.apt]);
    if (!present(t.check)) {
      console.error(
        `[rk-sync] FAILED to install ${t.apt}. Install it by hand: apt-get install ${t.apt}`,
      );
      process.exit(3);
    }
  }
}
