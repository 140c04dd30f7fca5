import { Annotations, RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { type AdoptConfig, parseAdopt } from './adopt.ts';

/**
 * Typed deployment configuration, resolved once from CDK context (`cdk.json` or `-c key=value`).
 * Every value is optional; defaults give a working single-user deployment.
 */
export interface RkSyncConfig {
  /** CloudFormation stack name; also part of the token parameter prefix. */
  readonly stackName: string;
  /** Runkeeper OAuth client id (public). */
  readonly clientId: string;
  /** Name of the SSM SecureString holding the client secret (created by the user, never by CFN). */
  readonly clientSecretParameter: string;
  /** Minutes between scheduler runs. */
  readonly scheduleMinutes: number;
  /** Runkeeper call budget per user: calls per window. */
  readonly rateLimitCalls: number;
  /** Runkeeper call budget per user: window length in seconds. */
  readonly rateLimitWindowSeconds: number;
  /** Optional address subscribed to the alarm topic. */
  readonly alarmEmail: string | undefined;
  /** What the de-authorisation callback does with the archive. */
  readonly onRevoke: 'keep' | 'delete';
  readonly apiBaseUrl: string;
  readonly authBaseUrl: string;
  /** RETAIN for real deployments; DESTROY only for ephemeral test stages. */
  readonly removalPolicy: RemovalPolicy;
  /** Powertools log level for every function. */
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * `cmk`: one customer-managed KMS key for the bucket, table, queues, topic and tokens.
   * `aws-managed`: no customer-managed key (AWS-managed/owned keys; saves $1–3/month, see
   * docs/DEPLOY.md §8).
   */
  readonly encryption: 'cmk' | 'aws-managed';
  /**
   * The retained bucket, table and key of an earlier deployment to deploy onto
   * (`-c bucketName=… -c tableName=… -c kmsKeyArn=…`); undefined: create new ones.
   */
  readonly adopt: AdoptConfig | undefined;
}

export const DEFAULT_CLIENT_ID = 'REPLACE_ME';

export const DEFAULTS = {
  stackName: 'RkSync',
  clientId: DEFAULT_CLIENT_ID,
  clientSecretParameter: '/rk-sync/client-secret',
  scheduleMinutes: 15,
  rateLimitCalls: 100,
  rateLimitWindowSeconds: 900,
  onRevoke: 'keep',
  apiBaseUrl: 'https://api.runkeeper.com',
  authBaseUrl: 'https://runkeeper.com',
  logLevel: 'INFO',
  encryption: 'cmk',
} as const;

function str(scope: Construct, key: string): string | undefined {
  const raw: unknown = scope.node.tryGetContext(key);
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
    throw new Error(`context ${key}: expected a string, got ${typeof raw}`);
  }
  return String(raw).trim();
}

function int(scope: Construct, key: string, fallback: number, min: number, max: number): number {
  const raw = str(scope, key);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`context ${key}: expected an integer in [${min}, ${max}], got ${raw}`);
  }
  return n;
}

function oneOf<T extends string>(
  scope: Construct,
  key: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = str(scope, key);
  if (raw === undefined) return fallback;
  const found = allowed.find((a) => a.toLowerCase() === raw.toLowerCase());
  if (found === undefined) {
    throw new Error(`context ${key}: expected one of ${allowed.join('|')}, got ${raw}`);
  }
  return found;
}

function httpsUrl(scope: Construct, key: string, fallback: string): string {
  const raw = str(scope, key) ?? fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`context ${key}: not a URL: ${raw}`);
  }
  // http is allowed only for loopback (local simulator); bearer tokens never travel in clear text.
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(`context ${key}: must be an https URL, got ${raw}`);
  }
  return raw.replace(/\/+$/, '');
}

/** Reads and validates the CDK context once. Throws on invalid values (fail fast at synth). */
export function loadConfig(scope: Construct): RkSyncConfig {
  for (const forbidden of ['clientSecret', 'client_secret', 'CLIENT_SECRET']) {
    if (scope.node.tryGetContext(forbidden) !== undefined) {
      // Context values end up in cdk.out and shell history; the secret belongs in SSM only.
      throw new Error(
        `context ${forbidden} is not accepted: store the secret with \`aws ssm put-parameter --type SecureString\` ` +
          'and pass its name as clientSecretParameter (see docs/DEPLOY.md).',
      );
    }
  }
  const clientId = str(scope, 'clientId') ?? DEFAULTS.clientId;
  const clientSecretParameter =
    str(scope, 'clientSecretParameter') ?? DEFAULTS.clientSecretParameter;
  if (!/^\/[A-Za-z0-9_.\-/]+$/.test(clientSecretParameter)) {
    throw new Error(
      `context clientSecretParameter: expected an absolute SSM name like /rk-sync/client-secret, got ${clientSecretParameter}`,
    );
  }
  const stackName = str(scope, 'stackName') ?? DEFAULTS.stackName;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,63}$/.test(stackName)) {
    throw new Error(`context stackName: invalid CloudFormation stack name ${stackName}`);
  }
  const alarmEmail = str(scope, 'alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    throw new Error(`context alarmEmail: not an e-mail address: ${alarmEmail}`);
  }
  const removal = oneOf(scope, 'removalPolicy', ['retain', 'destroy'], 'retain');
  const encryption = oneOf(scope, 'encryption', ['cmk', 'aws-managed'], DEFAULTS.encryption);
  const config: RkSyncConfig = {
    stackName,
    clientId,
    clientSecretParameter,
    // EventBridge rate() takes whole minutes; 1 day is a sane upper bound.
    scheduleMinutes: int(scope, 'scheduleMinutes', DEFAULTS.scheduleMinutes, 1, 1440),
    rateLimitCalls: int(scope, 'rateLimitCalls', DEFAULTS.rateLimitCalls, 1, 100_000),
    rateLimitWindowSeconds: int(
      scope,
      'rateLimitWindowSeconds',
      DEFAULTS.rateLimitWindowSeconds,
      1,
      86_400,
    ),
    alarmEmail,
    onRevoke: oneOf(scope, 'onRevoke', ['keep', 'delete'], DEFAULTS.onRevoke),
    apiBaseUrl: httpsUrl(scope, 'apiBaseUrl', DEFAULTS.apiBaseUrl),
    authBaseUrl: httpsUrl(scope, 'authBaseUrl', DEFAULTS.authBaseUrl),
    removalPolicy: removal === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    logLevel: oneOf(scope, 'logLevel', ['DEBUG', 'INFO', 'WARN', 'ERROR'], DEFAULTS.logLevel),
    encryption,
    adopt: parseAdopt(
      {
        bucketName: str(scope, 'bucketName'),
        tableName: str(scope, 'tableName'),
        kmsKeyArn: str(scope, 'kmsKeyArn'),
      },
      encryption,
    ),
  };
  if (config.clientId === DEFAULT_CLIENT_ID) {
    Annotations.of(scope).addWarningV2(
      'rk-sync:clientIdPlaceholder',
      'clientId is not set: deploy with `-c clientId=<your Runkeeper client id>` (see docs/DEPLOY.md). ' +
        'The stack synthesises, but authorisation will fail until it is set.',
    );
  }
  return config;
}
