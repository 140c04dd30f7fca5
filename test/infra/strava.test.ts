/**
 * The opt-in Strava mirror (`-c strava=true`): present only when asked, cdk-nag clean with
 * every acknowledgement justified by a real finding, exact grants, the same queue patterns as
 * the fetch path, and cfn-lint and checkov clean on its resources, in both encryption modes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureVenvTool } from '../../scripts/python-tools.ts';
import { auditAcknowledgements, buildApp } from './synth-helper.ts';

type Res = Record<string, { Type: string; Properties?: Record<string, unknown> }>;
const STRAVA = { strava: 'true', stravaClientId: '12345' };
const outdir = mkdtempSync(path.join(tmpdir(), 'rk-sync-strava-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const MODES = [
  { encryption: 'cmk', stackName: 'RkSyncStrava' },
  { encryption: 'aws-managed', stackName: 'RkSyncStravaAwsManaged' },
] as const;

function synth(context: Record<string, unknown>) {
  const { app, stack } = buildApp({ outdir, context });
  const template = Template.fromStack(stack); // runs cdk-nag: an unacknowledged error throws
  app.synth();
  return { template, resources: template.toJSON().Resources as Res };
}

describe('Strava mirror infrastructure (-c strava=true)', { timeout: 180_000 }, () => {
  it('is absent by default', () => {
    const { resources } = synth({});
    expect(Object.keys(resources).filter((id) => id.includes('Strava'))).toEqual([]);
  });

  it.each(MODES)(
    'adds a push queue with DLQ and alarm, a pusher on it, and a tick (encryption=$encryption)',
    ({ encryption, stackName }) => {
      const { template, resources } = synth({ ...STRAVA, encryption, stackName });
      const fn = Object.entries(resources).find(
        ([id, r]) => id.startsWith('StravaPusherFunction') && r.Type === 'AWS::Lambda::Function',
      );
      expect(fn).toBeDefined();
      const env = (fn![1].Properties!.Environment as { Variables: Record<string, unknown> })
        .Variables;
      expect(env).toMatchObject({
        STRAVA_CLIENT_ID: '12345',
        STRAVA_LIMITS: '200,2000,100,1000',
        STRAVA_MUTE: 'true',
      });
      expect(JSON.stringify(env)).not.toMatch(/secret"?:\s*"[^/]/i);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        BatchSize: 1,
        ScalingConfig: { MaximumConcurrency: 2 },
      });
      const queues = Object.entries(resources).filter(
        ([id, r]) => id.startsWith('Strava') && r.Type === 'AWS::SQS::Queue',
      );
      expect(queues).toHaveLength(2);
      const push = queues.find(([id]) => id.includes('PushQueue'))![1].Properties!;
      expect(push.RedrivePolicy).toMatchObject({ maxReceiveCount: 5 });
      expect(push.VisibilityTimeout).toBe(1800);
      expect(
        Object.keys(resources).some((id) => id.startsWith('StravaPushDeadLetterQueueAlarm')),
      ).toBe(true);
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(15 minutes)',
        Targets: [{ Input: '{"tick":true}' }],
      });
      // The token grant is the Strava prefix only, never the Runkeeper tokens.
      const policies = Object.values(resources).filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' && JSON.stringify(r).includes('StravaPusherFunctionRole'),
      );
      const text = JSON.stringify(policies);
      expect(text).toContain(`parameter/rk-sync/${stackName}/strava-tokens/*`);
      expect(text).not.toContain(`parameter/rk-sync/${stackName}/tokens/*`);
      expect(text).not.toMatch(/"s3:PutObject"|"s3:DeleteObject"/);
    },
  );

  it.each(MODES)(
    'every cdk-nag acknowledgement matches a real finding (encryption=$encryption)',
    ({ encryption }) => {
      const { acks, stale } = auditAcknowledgements({ ...STRAVA, encryption });
      expect(acks.some((a) => a.path.includes('StravaPusherFunction'))).toBe(true);
      expect(stale).toEqual([]);
    },
  );

  it('cfn-lint reports nothing', () => {
    const files = MODES.map((m) => {
      synth({ ...STRAVA, ...m });
      return path.join(outdir, `${m.stackName}.template.json`);
    });
    const run = spawnSync(
      process.env.CFN_LINT ?? 'cfn-lint',
      ['--format', 'parseable', '--', ...files],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    if (run.error) throw run.error;
    expect(`${run.stdout}${run.stderr}`.trim()).toBe('');
    expect(run.status).toBe(0);
  }, 180_000);

  it.each(MODES)(
    'checkov finds nothing on the Strava resources beyond the stack-wide justified checks (encryption=$encryption)',
    ({ encryption, stackName }) => {
      synth({ ...STRAVA, encryption, stackName });
      const bin =
        process.env.CHECKOV ??
        ensureVenvTool(path.join(import.meta.dirname, '..', '..'), 'checkov', 'checkov');
      const run = spawnSync(
        bin,
        [
          '-f',
          path.join(outdir, `${stackName}.template.json`),
          '--framework',
          'cloudformation',
          '--skip-download',
          '-o',
          'json',
        ],
        { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      );
      const parsed = JSON.parse(run.stdout) as {
        results?: { failed_checks: { check_id: string; resource: string }[] };
      };
      expect(parsed.results).toBeDefined();
      const failed = (parsed.results?.failed_checks ?? []).filter((f) =>
        f.resource.includes('Strava'),
      );
      // The same not-applicable checks as every function of the stack (test/infra/checkov.test.ts):
      // no reserved concurrency (H1), no Lambda DLQ on an SQS consumer (the queue's DLQ is alarmed),
      // no VPC, default log encryption (no secrets in logs), names-only environment. In
      // aws-managed mode, CKV_AWS_27 cannot see SQS-managed SSE.
      const allowed = new Set([
        'CKV_AWS_115',
        'CKV_AWS_116',
        'CKV_AWS_117',
        'CKV_AWS_158',
        'CKV_AWS_173',
      ]);
      if (encryption === 'aws-managed') allowed.add('CKV_AWS_27');
      expect(
        failed.filter((f) => !allowed.has(f.check_id)).map((f) => `${f.check_id} ${f.resource}`),
      ).toEqual([]);
    },
    180_000,
  );
});
