/**
 * Redeploying onto the data of a destroyed stack (`-c bucketName=… -c tableName=… -c
 * kmsKeyArn=…`, docs/DEPLOY.md §10): synth-time and deploy-time validation, and the template
 * that adopts instead of creating: no bucket, table or key resource, every grant on the adopted
 * ones, the TLS-only bucket policy restated and retained, the importer's notification merged
 * (Managed: false), cdk-nag clean with no stale acknowledgement. cfn-lint and checkov run on
 * the same variants (cfn-lint.test.ts, checkov.test.ts).
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { checkAdoptTarget, parseAdopt } from '../../infra/adopt.ts';
import { loadConfig } from '../../infra/config.ts';
import { ADOPT_AWS_MANAGED, ADOPT_CMK, auditAcknowledgements, buildApp } from './synth-helper.ts';

type Json = Record<string, unknown>;
interface CfnResource {
  Type: string;
  Properties?: Json;
  DeletionPolicy?: string;
}

const { bucketName: BUCKET, tableName: TABLE, kmsKeyArn: KEY } = ADOPT_CMK;
const TABLE_ARN = `arn:aws:dynamodb:eu-west-1:123456789012:table/${TABLE}`;

const load = (context: Json) => loadConfig(new App({ context })).adopt;

function synth(context: Json): Record<string, CfnResource> {
  // Template.fromStack runs the validation plugins: an unacknowledged cdk-nag error throws.
  return Template.fromStack(buildApp({ context }).stack).toJSON().Resources as Record<
    string,
    CfnResource
  >;
}
function ofType(res: Record<string, CfnResource>, type: string): [string, CfnResource][] {
  return Object.entries(res).filter(([, r]) => r.Type === type);
}
function env(res: Record<string, CfnResource>, name: string): Json {
  const fn = ofType(res, 'AWS::Lambda::Function').find(([id]) => id.startsWith(`${name}Function`));
  if (!fn) throw new Error(`no ${name} function`);
  const vars = (fn[1].Properties?.Environment as { Variables?: Json } | undefined)?.Variables;
  if (!vars) throw new Error(`${name} has no environment`);
  return vars;
}
function statements(res: Record<string, CfnResource>): string {
  return JSON.stringify(
    ofType(res, 'AWS::IAM::Policy').map(([, p]) => p.Properties?.PolicyDocument),
  );
}

describe('adopt: validation at synth', () => {
  it('nothing adopted by default; names and ARNs are accepted and normalised', () => {
    expect(load({})).toBeUndefined();
    expect(load(ADOPT_CMK)).toEqual({
      bucketName: BUCKET,
      tableName: TABLE,
      tableArn: undefined,
      kmsKeyArn: KEY,
    });
    expect(
      load({ bucketName: `arn:aws:s3:::${BUCKET}`, tableName: TABLE_ARN, kmsKeyArn: KEY }),
    ).toEqual({ bucketName: BUCKET, tableName: TABLE, tableArn: TABLE_ARN, kmsKeyArn: KEY });
    expect(load(ADOPT_AWS_MANAGED)?.kmsKeyArn).toBeUndefined();
  });

  it.each([
    [{ ...ADOPT_CMK, bucketName: 'My_Bucket' }, /bucketName: not an S3 bucket name/],
    [{ ...ADOPT_CMK, bucketName: 'a..b' }, /bucketName/],
    [{ ...ADOPT_CMK, bucketName: '192.168.0.1' }, /bucketName/],
    [{ ...ADOPT_CMK, tableName: 'ab' }, /tableName: a DynamoDB table name/],
    [{ ...ADOPT_CMK, tableName: 'arn:aws:s3:::x' }, /tableName: not a DynamoDB table ARN/],
    [
      { ...ADOPT_CMK, kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:alias/rk' },
      /alias ARN cannot be granted/,
    ],
    [{ ...ADOPT_CMK, kmsKeyArn: '1234abcd-12ab-34cd-56ef-1234567890ab' }, /bare key id/],
    [{ bucketName: BUCKET, kmsKeyArn: KEY }, /together: pass both \(got no tableName/],
    [{ tableName: TABLE }, /together: pass both \(got no bucketName/],
    [{ kmsKeyArn: KEY }, /together/],
    [{ bucketName: BUCKET, tableName: TABLE }, /kmsKeyArn is required .* encryption=cmk/],
    [{ ...ADOPT_AWS_MANAGED, kmsKeyArn: KEY }, /kmsKeyArn is for encryption=cmk/],
    [
      { ...ADOPT_CMK, tableName: TABLE_ARN.replace('eu-west-1', 'us-east-1') },
      /different accounts or regions/,
    ],
  ])('refuses %j', (context, message) => {
    expect(() => load(context)).toThrow(message);
  });

  it('at deploy: an ARN from another region or account is refused before anything is created', () => {
    const a = parseAdopt({ bucketName: BUCKET, tableName: TABLE_ARN, kmsKeyArn: KEY }, 'cmk');
    expect(() =>
      checkAdoptTarget(a, { account: '123456789012', region: 'eu-west-1' }),
    ).not.toThrow();
    // Offline synth: CDK_DEFAULT_* unset, nothing to compare against.
    expect(() => checkAdoptTarget(a, {})).not.toThrow();
    expect(() => checkAdoptTarget(a, { region: 'us-east-1' })).toThrow(
      /in eu-west-1, but this deployment targets us-east-1/,
    );
    expect(() => checkAdoptTarget(a, { account: '210987654321' })).toThrow(
      /belongs to account 123456789012/,
    );
  });
});

describe.each([
  ['cmk', ADOPT_CMK],
  ['aws-managed', ADOPT_AWS_MANAGED],
] as const)('adopt template (encryption=%s)', (mode, context) => {
  const res = synth(context);
  const created = synth(mode === 'cmk' ? {} : { encryption: 'aws-managed' });

  it('creates no bucket, table or key: the earlier ones are used by name', () => {
    expect(ofType(res, 'AWS::S3::Bucket')).toEqual([]);
    expect(ofType(res, 'AWS::DynamoDB::Table')).toEqual([]);
    expect(ofType(res, 'AWS::KMS::Key')).toEqual([]);
    // The created variant has them, each retained on destroy.
    for (const type of ['AWS::S3::Bucket', 'AWS::DynamoDB::Table']) {
      expect(ofType(created, type).every(([, r]) => r.DeletionPolicy === 'Retain')).toBe(true);
    }
    for (const fn of ['Scheduler', 'Fetcher', 'Importer']) {
      expect(env(res, fn)).toMatchObject({ TABLE_NAME: TABLE, BUCKET_NAME: BUCKET });
    }
    if (mode === 'cmk') expect(env(res, 'Callback').TOKEN_KMS_KEY_ID).toBe(KEY);
    else expect(env(res, 'Callback').TOKEN_KMS_KEY_ID).toBeUndefined();
  });

  it('grants reach the adopted table, its byWork index, the bucket prefixes and the key', () => {
    const s = statements(res);
    expect(s).toContain(`:table/${TABLE}"`);
    expect(s).toContain(`:table/${TABLE}/index/*"`);
    expect(s).toContain(`:s3:::${BUCKET}/raw/*"`);
    if (mode === 'cmk') expect(s).toContain(KEY);
    else expect(s).not.toMatch(/"kms:/);
  });

  it('restates the TLS-only bucket policy and retains it (the earlier one may be gone)', () => {
    const policies = ofType(res, 'AWS::S3::BucketPolicy');
    expect(policies).toHaveLength(1);
    const [, policy] = policies[0]!;
    expect(policy.DeletionPolicy).toBe('Retain');
    expect(policy.Properties).toMatchObject({
      Bucket: BUCKET,
      PolicyDocument: {
        Statement: [
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      },
    });
    // The created stack retains its bucket policies too, so destroy leaves them in place.
    const kept = ofType(created, 'AWS::S3::BucketPolicy');
    expect(kept).toHaveLength(2);
    expect(kept.every(([, p]) => p.DeletionPolicy === 'Retain')).toBe(true);
  });

  it("merges the importer's imports/*.zip notification into the bucket's configuration", () => {
    const [, n] = ofType(res, 'Custom::S3BucketNotifications')[0]!;
    expect(n.Properties).toMatchObject({ BucketName: BUCKET, Managed: false });
    expect(JSON.stringify(n.Properties?.NotificationConfiguration)).toContain('imports/');
    // Unmanaged: the handler reads the existing configuration before writing its own entry.
    expect(statements(res)).toContain('s3:GetBucketNotification');
  });

  it('keeps the queues, alarms, API and schedule of a fresh deployment', () => {
    for (const type of [
      'AWS::SQS::Queue',
      'AWS::CloudWatch::Alarm',
      'AWS::Lambda::Function',
      'AWS::Events::Rule',
      'AWS::ApiGatewayV2::Route',
    ]) {
      expect(ofType(res, type).length, type).toBe(ofType(created, type).length);
    }
  });

  it('cdk-nag: no finding, and no acknowledgement without a finding', () => {
    const audit = auditAcknowledgements(context);
    expect(audit.acks.length).toBeGreaterThan(5);
    expect(audit.stale).toEqual([]);
  });
});
