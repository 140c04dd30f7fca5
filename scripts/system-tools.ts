/**
 * Debian packages the tests drive (headless Chromium for the pages a person looks at,
 * xmllint for the official XML schemas). Installed with apt-get when missing and running as
 * root (CI is root); otherwise the tests that need them skip with a printed reason.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PACKAGES: Record<string, { bin: string; apt: string }> = {
  chromium: { bin: '/usr/bin/chromium', apt: 'chromium' },
  xmllint: { bin: '/usr/bin/xmllint', apt: 'libxml2-utils' },
};

export function ensureDebianTools(names: string[]): void {
  const missing = names.filter((n) => {
    const p = PACKAGES[n];
    if (!p) throw new Error(`unknown tool ${n}`);
    return !existsSync(p.bin);
  });
  if (missing.length === 0) return;
  const apt = missing.map((n) => PACKAGES[n]!.apt);
  if (process.getuid?.() !== 0) {
    console.error(
      `[rk-sync] ${missing.join(', ')} missing and not root: the tests that need them will skip (install: apt-get install ${apt.join(' ')})`,
    );
    return;
  }
  console.error(`[rk-sync] installing ${apt.join(' ')} from Debian's packages...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...apt], {
    stdio: 'inherit',
    env,
  });
  if (r.status !== 0 || missing.some((n) => !existsSync(PACKAGES[n]!.bin))) {
    console.error(`[rk-sync] FAILED to install ${apt.join(' ')}: apt-get install ${apt.join(' ')}`);
    process.exit(3);
  }
}
