import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfig } from './config.ts';
import { RkSyncStack } from './stack.ts';

const app = new App();
const config = loadConfig(app);
// Env-agnostic on purpose: synth needs no credentials; deploy uses the CLI's account/region.
new RkSyncStack(app, config.stackName, {
  config,
  description: 'rk-sync: private, always-current backup of Runkeeper data',
});
// cdk-nag 3 is a policy-validation plugin (not an Aspect): unacknowledged errors fail synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
