/**
 * The whole test suite: makes sure the tools the tests drive are installed (moto server,
 * cfn-lint and checkov from PyPI; Chromium and xmllint from Debian), runs vitest, and ends
 * with the plain `N passed, N failed` line CI reads.
 * Usage: npm test [-- <vitest filters>]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePythonTools, ensureVenvTool, PYPI_PINS } from './python-tools.ts';
import { ensureDebianTools } from './system-tools.ts';

const root = join(import.meta.dirname, '..');
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(
    `rk-sync tests need Node >= 22 (running ${process.version}); run them through "npm test".`,
  );
  process.exit(2);
}

ensurePythonTools(['moto', 'cfn-lint']);
ensureDebianTools(['chromium', 'xmllint']);
process.env.CHECKOV = ensureVenvTool(root, 'checkov', `checkov==${PYPI_PINS.checkov}`);

// Static checks first: TypeScript strict and Biome (each counts as one test in the summary).
const checks: [string, string[]][] = [
  [
    'typecheck',
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', 'tsconfig.json'],
  ],
  ['lint', [join(root, 'node_modules', '@biomejs', 'biome', 'bin', 'biome'), 'ci', '.']],
];
let staticPassed = 0;
let staticFailed = 0;
for (const [name, cmd] of checks) {
  const r = spawnSync(process.execPath, cmd, { cwd: root, stdio: 'inherit' });
  if (r.status === 0) staticPassed++;
  else {
    staticFailed++;
    console.error(`[rk-sync] ${name} FAILED`);
  }
}

const out = join(root, '.tmp', 'vitest.json');
mkdirSync(join(root, '.tmp'), { recursive: true });
rmSync(out, { force: true });
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const r = spawnSync(
  process.execPath,
  [
    vitest,
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${out}`,
    ...process.argv.slice(2),
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR },
  },
);

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(out)) {
  const j = JSON.parse(readFileSync(out, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    numFailedTestSuites: number;
  };
  passed = j.numPassedTests;
  failed =
    j.numFailedTests +
    (j.numFailedTestSuites > 0 && j.numFailedTests === 0 ? j.numFailedTestSuites : 0);
  skipped = j.numPendingTests + j.numTodoTests;
} else {
  failed = 1;
  console.error('vitest wrote no report');
}
passed += staticPassed;
failed += staticFailed;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(r.status !== 0 || failed > 0 || passed === 0 ? 1 : 0);
