/**
 * A CloudFormation stack on moto that carries given outputs, so commands that read a deployed
 * stack's outputs (rk-sync invite/status/restore without cdk-outputs.json) are tested through
 * the real DescribeStacks call. The one resource is a queue (moto provisions it), the outputs
 * are literal values.
 */
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { REGION } from './aws-env.ts';

export async function createOutputsStack(
  endpoint: string,
  stackName: string,
  outputs: Record<string, string>,
): Promise<void> {
  const cfn = new CloudFormationClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const template = {
    AWSTemplateFormatVersion: '2010-09-09',
    Resources: { Marker: { Type: 'AWS::SQS::Queue' } },
    Outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { Value: v }])),
  };
  await cfn.send(
    new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify(template) }),
  );
}
