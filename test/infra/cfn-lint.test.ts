import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADOPT_AWS_MANAGED, ADOPT_CMK, buildApp } from './synth-helper.ts';

// Synthesise the default configuration, the ephemeral/onRevoke=delete variant (which adds
// the auto-delete custom resource and delete grants), encryption=aws-managed (no
// customer-managed key) and the two adopt variants into a temp cloud assembly.
const outdir = mkdtempSync(path.join(tmpdir(), 'rk-sync-cfn-lint-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function synthTemplates(): string[] {
  buildApp({ outdir }).app.synth();
  buildApp({
    outdir,
    context: { stackName: 'RkSyncEphemeral', onRevoke: 'delete', removalPolicy: 'destroy' },
  }).app.synth();
  buildApp({
    outdir,
    context: { stackName: 'RkSyncAwsManaged', encryption: 'aws-managed' },
  }).app.synth();
  // Redeploys onto a destroyed stack's bucket, table (and key): no data resources, a restated
  // bucket policy, an unmanaged bucket notification.
  buildApp({ outdir, context: { stackName: 'RkSyncAdopt', ...ADOPT_CMK } }).app.synth();
  buildApp({
    outdir,
    context: { stackName: 'RkSyncAdoptAwsManaged', ...ADOPT_AWS_MANAGED },
  }).app.synth();
  return readdirSync(outdir)
    .filter((f) => f.endsWith('.template.json'))
    .map((f) => path.join(outdir, f));
}

describe('cfn-lint', () => {
  it('reports nothing on the synthesised templates', () => {
    const templates = synthTemplates();
    expect(templates.length).toBe(5);
    const cmd = process.env.CFN_LINT ?? 'cfn-lint';
    // No rule is ignored: the only finding CDK produced by default (W3005, redundant
    // DependsOn on the execution role) is removed in infra/constructs/depends-on.ts.
    const run = spawnSync(cmd, ['--format', 'parseable', '--', ...templates], {
      encoding: 'utf8',
      // Five templates; on a loaded 2-core machine one run has taken over 60 s.
      timeout: 170_000,
    });
    // ENOENT: not on PATH; 127: a pyenv shim exists but no Python version provides it.
    if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' || run.status === 127) {
      throw new Error(
        `cfn-lint is not installed (looked for "${cmd}" on PATH). Install it with ` +
          '`pip install cfn-lint` (or set CFN_LINT to its path) and re-run.',
      );
    }
    if (run.error) throw run.error;
    // Exit code is a bit mask: 2 = error, 4 = warning, 8 = informational; 0 = clean.
    expect(`${run.stdout}${run.stderr}`.trim()).toBe('');
    expect(run.status).toBe(0);
    // Three syntheses plus cfn-lint take ~30 s alone and 100 s on a loaded 2-core machine.
  }, 180_000);
});
