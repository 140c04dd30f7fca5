import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { checkAdoptTarget } from './adopt.ts';
import { loadConfig } from './config.ts';
import { RkSyncStack } from './stack.ts';

const app = new App();
const config = loadConfig(app);
// `cdk deploy` sets these from the credentials it deploys with (unset for an offline synth):
// an adopted table or key ARN from another account or region fails here, not at runtime.
checkAdoptTarget(config.adopt, {
  account: process.env.CDK_DEFAULT_ACCOUNT,
  region: process.env.CDK_DEFAULT_REGION,
});
// Env-agnostic on purpose: synth needs no credentials; deploy uses the CLI's account/region.
new RkSyncStack(app, config.stackName, {
  config,
  description: 'rk-sync: private, always-current backup of Runkeeper data',
});
// cdk-nag 3 is a policy-validation plugin (not an Aspect): unacknowledged errors fail synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
