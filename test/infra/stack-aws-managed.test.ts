/**
 * `-c encryption=aws-managed`: the stack without the customer-managed KMS key (docs/DEPLOY.md
 * §8). Same resources, policies and checks as the default, except the encryption settings and
 * the kms: grants that only the customer-managed key needed.
 */
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../infra/config.ts';
import { auditAcknowledgements, buildApp } from './synth-helper.ts';

type Json = Record<string, unknown>;
interface CfnResource {
  Type: string;
  Properties?: Json;
  DeletionPolicy?: string;
}
interface Statement {
  Action: string | string[];
  Resource: unknown;
}

const AWS_MANAGED = { encryption: 'aws-managed' };
const { stack } = buildApp({ context: AWS_MANAGED });
// Template.fromStack runs the validation plugins: an unacknowledged cdk-nag error throws here.
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, CfnResource>;
const cmkResources = Template.fromStack(buildApp().stack).toJSON().Resources as Record<
  string,
  CfnResource
>;
const deleting = buildApp({
  context: {
    ...AWS_MANAGED,
    stackName: 'RkSyncAwsManagedEphemeral',
    onRevoke: 'delete',
    removalPolicy: 'destroy',
  },
});

const FUNCTIONS = ['Authorize', 'Callback', 'Deauthorize', 'Scheduler', 'Fetcher', 'Importer'];

function only(res: Record<string, CfnResource>, prefix: string, type: string): CfnResource {
  const ids = Object.keys(res).filter((id) => id.startsWith(prefix) && res[id]?.Type === type);
  if (ids.length !== 1) throw new Error(`expected one ${type} ${prefix}*, found ${ids.join(',')}`);
  return res[ids[0]!]!;
}
function env(res: Record<string, CfnResource>, name: string): Json {
  const fn = only(res, `${name}Function`, 'AWS::Lambda::Function');
  return (fn.Properties?.Environment as { Variables: Json } | undefined)?.Variables ?? {};
}
function asArray<T>(v: T | T[]): T[] {
  return Array.isArray(v) ? v : [v];
}
/** Every action granted to a function's execution role, sorted. */
function roleActions(res: Record<string, CfnResource>, name: string): string[] {
  const roleId = Object.keys(res).find(
    (id) => id.startsWith(`${name}FunctionRole`) && res[id]?.Type === 'AWS::IAM::Role',
  );
  return Object.values(res)
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(r.Properties?.Roles).includes(`"${roleId}"`),
    )
    .flatMap(
      (r) =>
        (r.Properties?.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? [],
    )
    .flatMap((s) => asArray(s.Action))
    .sort();
}
const denyInsecureTransport = Match.objectLike({
  Effect: 'Deny',
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
});

describe('encryption=aws-managed', () => {
  it('config: defaults to cmk, accepts aws-managed, rejects anything else', () => {
    const load = (context: Json) => loadConfig(new App({ context })).encryption;
    expect(load({})).toBe('cmk');
    expect(load({ encryption: 'aws-managed' })).toBe('aws-managed');
    expect(load({ encryption: 'AWS-Managed' })).toBe('aws-managed');
    expect(() => load({ encryption: 'none' })).toThrow(/encryption/);
  });

  it('creates no KMS key and references none', () => {
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.resourceCountIs('AWS::KMS::Alias', 0);
    const json = JSON.stringify(resources);
    expect(json).not.toMatch(/DataKey/);
    expect(json).not.toMatch(/"kms:/);
    // The default mode keeps its one customer-managed key.
    expect(Object.values(cmkResources).filter((r) => r.Type === 'AWS::KMS::Key')).toHaveLength(1);
  });

  it('archive bucket: SSE-KMS under aws/s3 with bucket key; BPA, versioning, TLS-only kept', () => {
    const bucket = only(resources, 'ArchiveBucket', 'AWS::S3::Bucket');
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    // No KMSMasterKeyID: S3 uses the account's AWS-managed aws/s3 key.
    expect(JSON.stringify(bucket.Properties?.BucketEncryption)).not.toContain('KMSMasterKeyID');
    expect(bucket.DeletionPolicy).toBe('Retain');
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([denyInsecureTransport]) },
    });
  });

  it('ledger table: AWS-owned key; PITR and deletion protection kept', () => {
    const table = only(resources, 'Table', 'AWS::DynamoDB::Table');
    const sse = table.Properties?.SSESpecification as Json | undefined;
    // SSEEnabled false (or absent) is DynamoDB's AWS-owned key, not "unencrypted".
    expect(sse?.SSEEnabled ?? false).toBe(false);
    expect(sse?.KMSMasterKeyId).toBeUndefined();
    expect(table.Properties).toMatchObject({
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
    });
    expect(table.DeletionPolicy).toBe('Retain');
  });

  it('queue and DLQ: SQS-managed SSE, TLS-only', () => {
    for (const name of [
      'FetchQueue',
      'FetchDeadLetterQueue',
      'ImportQueue',
      'ImportDeadLetterQueue',
    ]) {
      const q = only(resources, name, 'AWS::SQS::Queue');
      expect(q.Properties?.SqsManagedSseEnabled, name).toBe(true);
      expect(q.Properties?.KmsMasterKeyId, name).toBeUndefined();
      expect(q.Properties?.KmsDataKeyReusePeriodSeconds, name).toBeUndefined();
    }
    const policies = Object.values(resources).filter((r) => r.Type === 'AWS::SQS::QueuePolicy');
    expect(policies).toHaveLength(4);
    for (const p of policies) {
      expect(JSON.stringify(p.Properties?.PolicyDocument)).toContain('aws:SecureTransport');
    }
  });

  it('alarm topic: no SSE (CloudWatch cannot publish under aws/sns), TLS-only, still alarmed', () => {
    const topic = only(resources, 'AlarmTopic', 'AWS::SNS::Topic');
    expect(topic.Properties?.KmsMasterKeyId).toBeUndefined();
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([denyInsecureTransport]) },
    });
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(3);
    for (const a of alarms) expect(a.Properties?.AlarmActions).toHaveLength(1);
  });

  it('the callback gets no TOKEN_KMS_KEY_ID; every other variable is as in the default mode', () => {
    expect(env(resources, 'Callback')).not.toHaveProperty('TOKEN_KMS_KEY_ID');
    expect(env(cmkResources, 'Callback')).toHaveProperty('TOKEN_KMS_KEY_ID');
    for (const name of FUNCTIONS) {
      const { TOKEN_KMS_KEY_ID: _, ...rest } = env(cmkResources, name);
      expect(env(resources, name), name).toEqual(rest);
    }
  });

  it('IAM: the same grants as the default mode minus every kms: action', () => {
    for (const name of FUNCTIONS) {
      const actions = roleActions(resources, name);
      expect(
        actions.filter((a) => a.startsWith('kms:')),
        name,
      ).toEqual([]);
      expect(actions, name).toEqual(
        roleActions(cmkResources, name).filter((a) => !a.startsWith('kms:')),
      );
    }
  });

  it('cdk-nag: zero unacknowledged findings, and every acknowledgement matches a finding', () => {
    for (const s of [stack, deleting.stack]) {
      const report = new AwsSolutionsChecks().validateScope(s);
      expect(report.violations.map((v) => `${v.ruleName} ${v.severity}`)).toEqual([]);
      expect(Annotations.fromStack(s).findError('*', Match.anyValue())).toEqual([]);
      expect(Annotations.fromStack(s).findWarning('*', Match.anyValue())).toEqual([]);
    }
    for (const context of [
      AWS_MANAGED,
      { ...AWS_MANAGED, onRevoke: 'delete', removalPolicy: 'destroy' },
    ]) {
      const { acks, stale } = auditAcknowledgements(context);
      expect(acks.some((a) => a.id.includes('kms:'))).toBe(false);
      expect(stale).toEqual([]);
    }
  });
});
