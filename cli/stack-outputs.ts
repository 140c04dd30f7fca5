/**
 * A deployed stack's outputs (TableName, BucketName, AuthorizeUrl, …) for the commands that
 * work on the AWS deployment (invite, status --stack, restore --stack), read with the user's
 * own AWS credentials: from `--outputs <file>` or ./cdk-outputs.json (what `npm run deploy`
 * writes), otherwise from CloudFormation itself (DescribeStacks), so `npx cdk deploy` alone
 * is enough.
 */
import { existsSync, readFileSync } from 'node:fs';
import type {
  CloudFormationClient,
  DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation';
import { CliError, EXIT } from './errors.ts';

/** infra/config.ts DEFAULTS.stackName (not imported: the CLI does not load aws-cdk-lib). */
export const DEFAULT_STACK_NAME = 'RkSync';

export interface StackTarget {
  /** cdk-outputs.json path; default ./cdk-outputs.json when it exists. */
  outputs?: string | undefined;
  /** Stack name; default: the only stack in the outputs file, or RkSync. */
  stack?: string | undefined;
  region?: string | undefined;
}

export interface StackOutputs {
  stack: string;
  /** Where the values came from: the file, or `cloudformation`. */
  source: string;
  values: Record<string, string>;
}

function fromFile(file: string, stack: string | undefined): StackOutputs {
  let all: Record<string, Record<string, string>>;
  try {
    all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  } catch {
    throw new CliError(`cannot read stack outputs from ${file}`, EXIT.usage);
  }
  const names = Object.keys(all);
  const name = stack ?? (names.length === 1 ? names[0] : undefined);
  if (!name || !all[name]) {
    throw new CliError(
      `choose a stack with --stack (outputs file has: ${names.join(', ') || 'none'})`,
      EXIT.usage,
    );
  }
  return { stack: name, source: file, values: all[name] };
}

async function fromCloudFormation(
  stack: string,
  region: string | undefined,
  client?: CloudFormationClient,
): Promise<StackOutputs> {
  // Loaded on use: most commands never need the CloudFormation client.
  const { CloudFormationClient: Client, DescribeStacksCommand } = await import(
    '@aws-sdk/client-cloudformation'
  );
  const cfn = client ?? new Client(region ? { region } : {});
  let r: DescribeStacksCommandOutput;
  try {
    r = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
  } catch (e) {
    const err = e as Error;
    const missing = /does not exist/i.test(err.message);
    throw new CliError(
      missing
        ? `no stack ${stack} in this account/region (pass --stack NAME, --region, or --outputs cdk-outputs.json)`
        : `cannot read the outputs of stack ${stack} from CloudFormation: ${err.name}: ${err.message}`,
      missing ? EXIT.usage : EXIT.failed,
    );
  }
  const values: Record<string, string> = {};
  for (const o of r.Stacks?.[0]?.Outputs ?? []) {
    if (o.OutputKey && o.OutputValue !== undefined) values[o.OutputKey] = o.OutputValue;
  }
  return { stack, source: 'cloudformation', values };
}

export async function stackOutputs(
  t: StackTarget,
  client?: CloudFormationClient,
): Promise<StackOutputs> {
  const file = t.outputs ?? (existsSync('cdk-outputs.json') ? 'cdk-outputs.json' : undefined);
  if (file) return fromFile(file, t.stack);
  return fromCloudFormation(t.stack ?? DEFAULT_STACK_NAME, t.region, client);
}

/** One output, or a clear error naming the stack and where it looked. */
export function requireOutput(o: StackOutputs, key: string): string {
  const v = o.values[key];
  if (!v) {
    throw new CliError(`stack ${o.stack} has no ${key} output (read from ${o.source})`, EXIT.usage);
  }
  return v;
}
