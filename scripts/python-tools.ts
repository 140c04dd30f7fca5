/**
 * The Python tools the tests and checks drive: moto (AWS emulator, server mode) and
 * cfn-lint. Installed from PyPI with pip when missing; a failure to install is loud.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const TOOLS: Record<string, { check: string[]; pip: string }> = {
  moto: { check: ['-c', 'import moto, flask, moto.server'], pip: 'moto[server]' },
  'cfn-lint': { check: ['-c', 'import cfnlint.runner'], pip: 'cfn-lint' },
};

export function python(): string {
  for (const p of [process.env.PYTHON, 'python3', 'python'].filter(Boolean) as string[]) {
    if (spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0) return p;
  }
  throw new Error(
    'python3 is required (for the moto AWS emulator and cfn-lint) but was not found on PATH',
  );
}

export function ensurePythonTools(names: string[]): void {
  const py = python();
  for (const name of names) {
    const t = TOOLS[name];
    if (!t) throw new Error(`unknown tool ${name}`);
    if (spawnSync(py, t.check, { stdio: 'ignore' }).status === 0) continue;
    console.error(`[rk-sync] ${name} is missing; installing ${t.pip} from PyPI...`);
    const r = spawnSync(py, ['-m', 'pip', 'install', '--quiet', t.pip], { stdio: 'inherit' });
    if (r.status !== 0 || spawnSync(py, t.check, { stdio: 'ignore' }).status !== 0) {
      console.error(
        `[rk-sync] FAILED to install ${t.pip}. Install it by hand: ${py} -m pip install '${t.pip}'`,
      );
      process.exit(3);
    }
  }
}

/**
 * A tool with heavy pinned dependencies (checkov pins boto3, which would downgrade the one
 * moto uses) lives in its own virtual environment under .tmp/py/{name}. Returns its binary.
 */
export function ensureVenvTool(root: string, name: string, pip: string): string {
  const venv = join(root, '.tmp', 'py', name);
  const bin = join(venv, 'bin', name);
  if (existsSync(bin) && spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0)
    return bin;
  const py = python();
  console.error(`[rk-sync] installing ${pip} into ${venv} (isolated from moto's boto3)...`);
  const mk = spawnSync(py, ['-m', 'venv', venv], { stdio: 'inherit' });
  const inst =
    mk.status === 0
      ? spawnSync(join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', pip], {
          stdio: 'inherit',
        })
      : mk;
  if (inst.status !== 0 || !existsSync(bin)) {
    console.error(`[rk-sync] FAILED to install ${pip} into ${venv}`);
    process.exit(3);
  }
  return bin;
}
