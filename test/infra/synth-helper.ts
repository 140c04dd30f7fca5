import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { vi } from 'vitest';
import { loadConfig } from '../../infra/config.ts';
import { RkSyncStack } from '../../infra/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** The context committed in cdk.json (feature flags etc.), so tests synthesise like `cdk synth`. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

/** Context that adopts a destroyed stack's bucket, table and key (docs/DEPLOY.md §10). */
export const ADOPT_CMK = {
  bucketName: 'rksync-archivebucket9decbf5d-1a2b3c4d5e6f',
  tableName: 'RkSync-TableCD117FA1-1A2B3C4D5E6F',
  kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
} as const;
export const ADOPT_AWS_MANAGED = {
  bucketName: ADOPT_CMK.bucketName,
  tableName: ADOPT_CMK.tableName,
  encryption: 'aws-managed',
} as const;

export interface SynthOptions {
  readonly context?: Record<string, unknown>;
  readonly outdir?: string;
  /** Register cdk-nag like infra/app.ts does. @default true */
  readonly nag?: boolean;
}

/**
 * Builds the app exactly like infra/app.ts, but with esbuild bundling skipped
 * (`aws:cdk:bundling-stacks: []`) so no handler code is needed and synth stays ~1 s.
 */
export function buildApp(options: SynthOptions = {}): { app: App; stack: RkSyncStack } {
  const app = new App({
    context: {
      ...cdkJsonContext(),
      'aws:cdk:bundling-stacks': [],
      clientId: 'test-client-id',
      ...options.context,
    },
    ...(options.outdir === undefined ? {} : { outdir: options.outdir }),
  });
  const config = loadConfig(app);
  const stack = new RkSyncStack(app, config.stackName, { config });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

export interface AckAudit {
  /** Every cdk-nag acknowledgement the stack made, with the construct path it was made on. */
  acks: { path: string; id: string }[];
  /** Acknowledgements that match no real AwsSolutions finding on (or under) their construct. */
  stale: string[];
}

/**
 * Synthesises the stack without cdk-nag, records every `Validations.acknowledge` call, runs
 * the AwsSolutions checks directly, and reports acknowledgements that no finding justifies.
 */
export function auditAcknowledgements(context: Record<string, unknown>): AckAudit {
  const acks: { path: string; id: string }[] = [];
  const spy = vi.spyOn(Validations.prototype, 'acknowledge').mockImplementation(function (
    this: unknown,
    ...rules
  ) {
    const scope = (this as { scope: { node: { path: string } } }).scope;
    for (const r of rules) acks.push({ path: scope.node.path, id: r.id });
  });
  try {
    const { stack } = buildApp({ context, nag: false });
    const found = new AwsSolutionsChecks()
      .validateScope(stack)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '' })),
      );
    const stale = acks
      .filter((a) => !found.some((f) => f.id === a.id && f.path.startsWith(`${a.path}/`)))
      .map((a) => `${a.path} ${a.id}`);
    return { acks: [...acks], stale };
  } finally {
    spy.mockRestore();
  }
}
