import { CfnResource, Lazy, Stack } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/**
 * CDK renders every Lambda function with `DependsOn: [Role, RoleDefaultPolicy]` although the
 * `Role` property already references the role through Fn::GetAtt; cfn-lint flags the redundant
 * entry (W3005). This keeps every other dependency (the policy matters: the function must not
 * be invoked before its permissions exist) and drops only the role itself.
 */
export function dropRedundantRoleDependsOn(scope: IConstruct): void {
  const stack = Stack.of(scope);
  for (const node of scope.node.findAll()) {
    // CfnResource, not CfnFunction: CDK's BucketNotificationsHandler uses a raw CfnResource.
    if (!CfnResource.isCfnResource(node) || node.cfnResourceType !== 'AWS::Lambda::Function') {
      continue;
    }
    const parent = node.node.scope;
    const owner = parent as { role?: IRole } | undefined;
    // The function's execution role: the owner's `role` (Function, BucketNotificationsHandler)
    // or a sibling AWS::IAM::Role (CustomResourceProvider). All of them pass it via GetAtt.
    const isOwnRole = (d: CfnResource): boolean =>
      d.cfnResourceType === 'AWS::IAM::Role' &&
      (d === owner?.role?.node.defaultChild || d.node.scope === parent);
    node.addOverride(
      'DependsOn',
      Lazy.list(
        {
          produce: () =>
            node
              .obtainDependencies()
              .filter((d): d is CfnResource => CfnResource.isCfnResource(d) && !isOwnRole(d))
              .map((d) => stack.resolve(d.logicalId) as string)
              .sort(),
        },
        { omitEmpty: true },
      ),
    );
  }
}
