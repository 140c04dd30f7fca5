/**
 * Adopting the data of an earlier deployment (docs/DEPLOY.md §10): `cdk destroy` keeps the
 * archive bucket, the ledger table and the KMS key, and a new stack can take them over instead
 * of creating empty ones (which would re-fetch the whole history through the rate limit).
 *
 * Pure validation, no constructs: synth-time format and combination rules (`parseAdopt`) and
 * the deploy-time check against the account/region the CDK CLI deploys to (`checkAdoptTarget`).
 */

export interface AdoptConfig {
  /** The retained archive bucket (its name; an `arn:aws:s3:::name` is reduced to the name). */
  readonly bucketName: string;
  /** The retained ledger table's name. */
  readonly tableName: string;
  /** Set when the table was given as an ARN (region/account checked at deploy time). */
  readonly tableArn?: string | undefined;
  /** The retained customer-managed key (encryption=cmk only): a key ARN, never an alias. */
  readonly kmsKeyArn?: string | undefined;
}

export interface AdoptContext {
  bucketName?: string | undefined;
  tableName?: string | undefined;
  kmsKeyArn?: string | undefined;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const BUCKET_ARN = /^arn:aws[a-z-]*:s3:::([^/]+)$/;
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const TABLE_ARN = /^arn:(aws[a-z-]*):dynamodb:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):table\/([^/]+)$/;
const KEY_ARN =
  /^arn:(aws[a-z-]*):kms:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):key\/((?:mrk-)?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;

function bucketName(raw: string): string {
  const name = BUCKET_ARN.exec(raw)?.[1] ?? raw;
  // S3 general purpose bucket naming rules.
  if (
    !BUCKET_NAME.test(name) ||
    name.includes('..') ||
    /^\d+\.\d+\.\d+\.\d+$/.test(name) ||
    name.startsWith('xn--') ||
    name.startsWith('sthree-') ||
    name.endsWith('-s3alias') ||
    name.endsWith('--ol-s3')
  ) {
    throw new Error(
      `context bucketName: not an S3 bucket name or arn:aws:s3:::<name>: ${raw} ` +
        '(the BucketName output of the earlier stack, e.g. rksync-archivebucket9decbf5d-1a2b3c4d5e6f)',
    );
  }
  return name;
}

function table(raw: string): { tableName: string; tableArn?: string } {
  const arn = TABLE_ARN.exec(raw);
  if (arn) {
    if (!TABLE_NAME.test(arn[4]!)) throw new Error(`context tableName: bad table name in ${raw}`);
    return { tableName: arn[4]!, tableArn: raw };
  }
  if (raw.startsWith('arn:')) {
    throw new Error(
      `context tableName: not a DynamoDB table ARN (arn:aws:dynamodb:<region>:<account>:table/<name>): ${raw}`,
    );
  }
  if (!TABLE_NAME.test(raw)) {
    throw new Error(
      `context tableName: a DynamoDB table name has 3–255 characters of A-Z a-z 0-9 _ . -, got ${raw}`,
    );
  }
  return { tableName: raw };
}

function keyArn(raw: string): string {
  if (KEY_ARN.test(raw)) return raw;
  const hint = raw.includes(':alias/')
    ? 'an alias ARN cannot be granted to: pass the key ARN (aws kms describe-key --key-id <alias>)'
    : raw.startsWith('arn:')
      ? 'expected arn:aws:kms:<region>:<account>:key/<key id>'
      : 'a bare key id has no region and account: pass the full key ARN';
  throw new Error(`context kmsKeyArn: ${hint}, got ${raw}`);
}

/**
 * Synth-time rules. Returns undefined when nothing is adopted. Bucket and table go together
 * (one without the other means a re-fetch, or a ledger pointing at objects that are not
 * there); the customer-managed key is required with encryption=cmk (the adopted objects, table
 * and tokens are encrypted under it) and refused with encryption=aws-managed.
 */
export function parseAdopt(
  ctx: AdoptContext,
  encryption: 'cmk' | 'aws-managed',
): AdoptConfig | undefined {
  const { bucketName: b, tableName: t, kmsKeyArn: k } = ctx;
  if (b === undefined && t === undefined && k === undefined) return undefined;
  if (b === undefined || t === undefined) {
    throw new Error(
      'context bucketName and tableName adopt the data of an earlier deployment together: ' +
        `pass both (got ${b === undefined ? 'no bucketName' : 'no tableName'}${k === undefined ? '' : ', kmsKeyArn'}). ` +
        'Adopting one without the other re-fetches the history or leaves the ledger without its objects.',
    );
  }
  if (encryption === 'aws-managed' && k !== undefined) {
    throw new Error(
      'context kmsKeyArn is for encryption=cmk: with encryption=aws-managed the stack uses no customer-managed key',
    );
  }
  if (encryption === 'cmk' && k === undefined) {
    throw new Error(
      'context kmsKeyArn is required to adopt a bucket and table with encryption=cmk: the archive, ' +
        'the ledger and the tokens are encrypted under the earlier stack key (find it with ' +
        '`aws kms list-keys` / `aws kms describe-key`, or deploy with -c encryption=aws-managed if ' +
        'the earlier stack used that mode)',
    );
  }
  const tbl = table(t);
  const out: AdoptConfig = {
    bucketName: bucketName(b),
    tableName: tbl.tableName,
    tableArn: tbl.tableArn,
    kmsKeyArn: k === undefined ? undefined : keyArn(k),
  };
  const arns = arnTargets(out);
  if (
    arns.length === 2 &&
    (arns[0]!.region !== arns[1]!.region || arns[0]!.account !== arns[1]!.account)
  ) {
    throw new Error(
      `context tableName and kmsKeyArn name different accounts or regions (${arns[0]!.account}/${arns[0]!.region} vs ${arns[1]!.account}/${arns[1]!.region})`,
    );
  }
  return out;
}

function arnTargets(a: AdoptConfig): { what: string; account: string; region: string }[] {
  const out: { what: string; account: string; region: string }[] = [];
  const t = a.tableArn ? TABLE_ARN.exec(a.tableArn) : null;
  if (t) out.push({ what: 'tableName', region: t[2]!, account: t[3]! });
  const k = a.kmsKeyArn ? KEY_ARN.exec(a.kmsKeyArn) : null;
  if (k) out.push({ what: 'kmsKeyArn', region: k[2]!, account: k[3]! });
  return out;
}

/**
 * Deploy-time rule: the CDK CLI sets CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION from the
 * credentials it deploys with; an adopted ARN elsewhere would deploy and then fail at runtime.
 * Unknown target values (offline synth) are not checked.
 */
export function checkAdoptTarget(
  a: AdoptConfig | undefined,
  target: { account?: string | undefined; region?: string | undefined },
): void {
  if (!a) return;
  for (const arn of arnTargets(a)) {
    if (target.region && arn.region !== target.region) {
      throw new Error(
        `context ${arn.what}: the adopted resource is in ${arn.region}, but this deployment targets ${target.region} (set AWS_REGION=${arn.region})`,
      );
    }
    if (target.account && arn.account !== target.account) {
      throw new Error(
        `context ${arn.what}: the adopted resource belongs to account ${arn.account}, but the credentials are for ${target.account}`,
      );
    }
  }
}
