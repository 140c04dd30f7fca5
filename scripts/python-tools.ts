/**
 * The Python tools the tests and checks drive: moto (AWS emulator, server mode), cfn-lint and
 * checkov. Installed from PyPI with pip at pinned versions when missing or at another version
 * (so every machine tests against the same emulator and linters); a failed install is loud.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Pinned PyPI versions (bump deliberately, with a full `npm test`). */
export const PYPI_PINS = { moto: '5.2.1', 'cfn-lint': '1.51.0', checkov: '3.3.30' } as const;

/** Imports the modules and exits non-zero unless the distribution is at the pinned version. */
const atPin = (dist: string, modules: string) => [
  '-c',
  `import importlib.metadata as m, ${modules}; raise SystemExit(m.version('${dist}') != '${PYPI_PINS[dist as keyof typeof PYPI_PINS]}')`,
];

const TOOLS: Record<string, { check: string[]; pip: string }> = {
  moto: {
    check: atPin('moto', 'moto, flask, moto.server'),
    pip: `moto[server]==${PYPI_PINS.moto}`,
  },
  'cfn-lint': {
    check: atPin('cfn-lint', 'cfnlint.runner'),
    pip: `cfn-lint==${PYPI_PINS['cfn-lint']}`,
  },
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
  const want = /==(.+)$/.exec(pip)?.[1];
  if (existsSync(bin)) {
    const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (v.status === 0 && (want === undefined || v.stdout.trim() === want)) return bin;
  }
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
