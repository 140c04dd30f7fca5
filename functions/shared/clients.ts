/**
 * One factory per AWS SDK client, for the handler entries (functions/handlers/*.ts): each
 * entry constructs only what its function uses, so esbuild bundles only those clients (the
 * SDK packages are side-effect free; an unused factory drops its client).
 * Region and credentials come from the environment; the SDK honours AWS_ENDPOINT_URL
 * itself, S3_FORCE_PATH_STYLE=true is for emulators.
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';

export { documentClient } from './platform.ts';

export function s3Client(env: Record<string, string | undefined> = process.env): S3Client {
  return new S3Client({ forcePathStyle: env.S3_FORCE_PATH_STYLE === 'true' });
}

export const sqsClient = (): SQSClient => new SQSClient({});
export const ssmClient = (): SSMClient => new SSMClient({});
export const lambdaClient = (): LambdaClient => new LambdaClient({});
