/**
 * `rk-sync restore`'s options, apart from cli/restore.ts so the CLI loads the AWS SDK clients
 * only when the command runs (every other command starts without them).
 */
import type { Command } from 'commander';

/** The command and its options; cli/main.ts adds the action. */
export function restoreCommand(program: Command): Command {
  return program
    .command('restore')
    .description(
      "AWS deployment: bring back deleted or overwritten archive objects from the bucket's S3 versions, choosing the revision the ledger records. Uses your AWS credentials.",
    )
    .option('--activity <id>', 'one activity: its raw document, as the ledger records it')
    .option('--feed <feed>', "the activity's feed", 'fitnessActivities')
    .option('--key <key>', 'one object by key (newest stored version, or --version-id)')
    .option('--version-id <id>', 'with --key: the version to bring back')
    .option('--all', "every stored activity whose current object is not the ledger's revision")
    .option('--user-id <id>', 'the Runkeeper user (default: the only linked account)')
    .option('--dry-run', 'report what would be restored, change nothing')
    .option(
      '--stack <name>',
      'the CloudFormation stack (default RkSync) when there is no cdk-outputs.json',
    )
    .option('--outputs <file>', 'stack outputs written by `npm run deploy`')
    .option('--bucket <name>', 'the BucketName output (instead of the stack outputs)')
    .option('--table <name>', 'the TableName output (instead of the stack outputs)')
    .option('--region <region>', 'AWS region (default: your AWS configuration)');
}
