import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** Repository root (infra/constructs/../..). */
export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

/**
 * Stand-in entry used ONLY when bundling is skipped for this stack (template tests with
 * context `aws:cdk:bundling-stacks: []`) and the real handler file does not exist yet.
 * NodejsFunction insists that the entry file exists even when it will not bundle it.
 */
const PLACEHOLDER_ENTRY = path.join(import.meta.dirname, 'placeholder-entry.ts');

/** Powertools service name shared by every function: the AccountRevoked alarm matches on it. */
export const SERVICE_NAME = 'rk-sync';
export const METRICS_NAMESPACE = 'RkSync';

/** esbuild banner: lets CommonJS dependencies call `require` inside the ESM bundle. */
const CREATE_REQUIRE_BANNER =
  "import { createRequire as __rkCreateRequire } from 'node:module'; const require = __rkCreateRequire(import.meta.url);";

export interface AppFunctionProps {
  /** Handler file name under functions/handlers, without extension (e.g. `fetcher`). */
  readonly handlerName: string;
  readonly description: string;
  readonly timeout: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  readonly environment: Record<string, string>;
  readonly logLevel: string;
  /** @default RetentionDays.THREE_MONTHS */
  readonly logRetention?: RetentionDays;
  /** Async invocation retries (events from EventBridge/S3/async invoke). @default Lambda default (2) */
  readonly retryAttempts?: number;
  /** Override the entry file (absolute path). @default functions/handlers/<handlerName>.ts */
  readonly entry?: string;
}

/**
 * House Lambda construct: Node 24 on arm64, ESM bundle built locally by esbuild with the AWS SDK
 * bundled, its own log group with retention, Powertools env, and its own execution role that
 * may write only to that log group (no AWSLambdaBasicExecutionRole managed policy, so no IAM4).
 */
export class AppFunction extends NodejsFunction {
  readonly logGroupRef: LogGroup;
  readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: AppFunctionProps) {
    const wanted =
      props.entry ?? path.join(REPO_ROOT, 'functions', 'handlers', `${props.handlerName}.ts`);
    const entry = resolveEntry(scope, wanted);

    const logGroup = new LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? RetentionDays.THREE_MONTHS,
      // Diagnostic logs only (no user data, no secrets): removed with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the rk-sync ${props.handlerName} function`,
    });
    // Replaces AWSLambdaBasicExecutionRole: write to this function's own log group only.
    logGroup.grantWrite(role);

    super(scope, id, {
      entry,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      role,
      logGroup,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      ...(props.retryAttempts === undefined ? {} : { retryAttempts: props.retryAttempts }),
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        platform: 'node',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        mainFields: ['module', 'main'],
        banner: CREATE_REQUIRE_BANNER,
        // Bundle a pinned, tree-shaken AWS SDK instead of relying on the runtime's copy.
        bundleAwsSDK: true,
        externalModules: [],
        forceDockerBundling: false,
      },
    });
    this.logGroupRef = logGroup;
    this.executionRole = role;
  }

  /**
   * Grants `actions` on exactly `resources` (through iam.Grant, like the L2 grant* methods).
   * Use for services without an L2 grant that fits (SSM parameter paths).
   */
  grantActions(actions: string[], resources: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee: this, actions, resourceArns: resources });
  }

  /**
   * Acknowledges cdk-nag IAM5 findings on this function's role policy, one id per finding.
   * `findings` are the bracketed parts, e.g. `Action::kms:GenerateDataKey*`.
   */
  acknowledgeWildcards(findings: readonly string[], reason: string): void {
    for (const finding of findings) {
      Validations.of(this.executionRole).acknowledge({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason,
      });
    }
  }
}

function resolveEntry(scope: Construct, wanted: string): string {
  if (existsSync(wanted)) return wanted;
  if (!Stack.of(scope).bundlingRequired) return PLACEHOLDER_ENTRY;
  throw new Error(
    `Lambda entry ${path.relative(REPO_ROOT, wanted)} does not exist. ` +
      'Handlers live in functions/handlers/<name>.ts and export `handler`.',
  );
}
