/**
 * checkov (PyPI) on the synthesised template: every finding is either fixed or listed below
 * with the reason it does not apply to this stack. A new finding fails the test.
 * checkov runs from its own virtual environment (it pins an old boto3; scripts/python-tools.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureVenvTool, PYPI_PINS } from '../../scripts/python-tools.ts';
import { ADOPT_AWS_MANAGED, ADOPT_CMK, buildApp } from './synth-helper.ts';

/**
 * check id → why it does not apply (optionally only to resources matching `only`, and only in
 * one encryption `mode`).
 */
const NOT_APPLICABLE: Record<
  string,
  { reason: string; only?: RegExp; mode?: 'cmk' | 'aws-managed' }
> = {
  CKV_AWS_115: {
    reason:
      'No reserved concurrency on purpose: reserved concurrency 1 on the SQS-triggered fetcher is throttled by the poller and burns receive counts (hazard H1); pacing is the shared per-user budget + DelaySeconds, the event source uses MaximumConcurrency 2, and new accounts (quota 10) cannot reserve concurrency at all.',
  },
  CKV_AWS_116: {
    reason:
      "API handlers are synchronous (a Lambda DLQ only applies to async invokes); the fetcher's DLQ is the SQS redrive policy (maxReceiveCount 5, alarmed); a failed scheduler run is retried by the next tick and the importer is idempotent.",
  },
  CKV_AWS_117: {
    reason:
      'No VPC: the functions reach only AWS APIs and Runkeeper over TLS; a VPC would need a NAT gateway (~$32/month, 300× the running cost) and buys no isolation here.',
  },
  CKV_AWS_158: {
    reason:
      'Log groups use the CloudWatch default encryption; logs never hold tokens, secrets, codes or states (INV-SECRET, asserted across the suite), so a CMK key policy for the logs service adds cost and no protection.',
  },
  CKV_AWS_173: {
    reason:
      'Environment variables hold names and URLs only (table, bucket, queue, SSM parameter names); the client secret and tokens are read at runtime from SSM SecureStrings (under the stack CMK, or aws/ssm with encryption=aws-managed).',
  },
  // encryption=aws-managed only: the mode exists to drop the customer-managed key.
  CKV_AWS_119: {
    reason:
      'encryption=aws-managed: the ledger table uses the AWS-owned key on purpose (no customer-managed key, $1–3/month saved; docs/DEPLOY.md §8); it is still encrypted at rest, PITR and deletion protection unchanged.',
    mode: 'aws-managed',
    only: /AWS::DynamoDB::Table\.Table/,
  },
  CKV_AWS_27: {
    reason:
      'encryption=aws-managed: the fetch and import queues and their DLQs use SQS-managed SSE (SqsManagedSseEnabled: true, asserted in test/infra/stack-aws-managed.test.ts); this check only recognises KmsMasterKeyId, so encrypted queues read as unencrypted.',
    mode: 'aws-managed',
    only: /AWS::SQS::Queue\.(Fetch|Import)(DeadLetter)?Queue/,
  },
  CKV_AWS_26: {
    reason:
      'encryption=aws-managed: CloudWatch alarms cannot publish to a topic under aws/sns (that key policy cannot grant cloudwatch.amazonaws.com, so notifications would be dropped) and this mode has no customer-managed key; the topic carries only alarm state changes, never user data, and is TLS-only.',
    mode: 'aws-managed',
    only: /AWS::SNS::Topic\.AlarmTopic/,
  },
  CKV_AWS_18: {
    reason: 'The access-log bucket itself: logging it would log the logger.',
    only: /AccessLogsBucket/,
  },
  CKV_AWS_21: {
    reason: 'The access-log bucket holds write-once log objects; versioning adds nothing.',
    only: /AccessLogsBucket/,
  },
};

const outdir = mkdtempSync(path.join(tmpdir(), 'rk-sync-checkov-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/**
 * Both encryption modes (the default customer-managed key and `-c encryption=aws-managed`),
 * each also adopting a destroyed stack's bucket, table (and key): docs/DEPLOY.md §10.
 */
const MODES = [
  { encryption: 'cmk', stackName: 'RkSync', adopt: {} },
  { encryption: 'aws-managed', stackName: 'RkSyncAwsManaged', adopt: {} },
  { encryption: 'cmk', stackName: 'RkSyncAdopt', adopt: ADOPT_CMK },
  { encryption: 'aws-managed', stackName: 'RkSyncAdoptAwsManaged', adopt: ADOPT_AWS_MANAGED },
] as const;

describe('checkov', () => {
  it.each(MODES)(
    'finds nothing beyond the justified not-applicable checks ($stackName, encryption=$encryption)',
    ({ encryption, stackName, adopt }) => {
      buildApp({ outdir, context: { encryption, stackName, ...adopt } }).app.synth();
      const template = `${stackName}.template.json`;
      expect(readdirSync(outdir)).toContain(template);
      const bin =
        process.env.CHECKOV ??
        ensureVenvTool(
          path.join(import.meta.dirname, '..', '..'),
          'checkov',
          `checkov==${PYPI_PINS.checkov}`,
        );
      // --skip-download: no call to Prisma Cloud (tests reach only loopback and the registries).
      const args = [
        '-f',
        path.join(outdir, template),
        '--framework',
        'cloudformation',
        '--skip-download',
        '-o',
        'json',
      ];
      const run = spawnSync(bin, args, {
        encoding: 'utf8',
        timeout: 120_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      type Report = {
        check_type?: string;
        results?: {
          failed_checks: { check_id: string; resource: string }[];
          passed_checks: unknown[];
        };
      };
      let parsed: Report | Report[];
      try {
        parsed = JSON.parse(run.stdout) as Report | Report[];
      } catch {
        throw new Error(`checkov gave no JSON (exit ${run.status}): ${run.stderr.slice(-2000)}`);
      }
      const report =
        (Array.isArray(parsed) ? parsed.find((r) => r.check_type === 'cloudformation') : parsed) ??
        {};
      if (!report.results)
        throw new Error(`checkov found nothing to check: ${run.stdout.slice(0, 500)}`);
      expect(report.results.passed_checks.length).toBeGreaterThan(100);
      const unexplained = report.results.failed_checks
        .filter((f) => {
          const na = NOT_APPLICABLE[f.check_id];
          if (na?.mode !== undefined && na.mode !== encryption) return true;
          return !na || (na.only !== undefined && !na.only.test(f.resource));
        })
        .map((f) => `${f.check_id} ${f.resource}`);
      expect(unexplained).toEqual([]);
    },
    180_000,
  );
});
