/**
 * `rk-sync status --stack NAME` / `--aws`: the deployed stack at a glance, read with the
 * user's own AWS credentials (read-only calls): per linked account the ledger counts, the call
 * budget, the change watermark and the last scheduler run (DynamoDB); the fetch queue's and
 * the dead-letter queue's depth (SQS); the alarms on the stack's alarm topic (CloudWatch); and
 * whether the archive bucket still has versioning on (S3; an adopted bucket is not managed by
 * the stack any more).
 */
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  DynamoAccountStore,
  DynamoBudgetStore,
  DynamoLedger,
} from '../functions/adapters/aws/dynamo.ts';
import { queueDepth } from '../functions/adapters/aws/queue-depth.ts';
import { budgetKey, SlidingWindowBudget } from '../functions/core/budget.ts';
import { CliError, EXIT } from './errors.ts';
import { formatDuration } from './progress.ts';
import { requireOutput, type StackTarget, stackOutputs } from './stack-outputs.ts';

export interface AwsStatusReport {
  stack: string;
  source: string;
  table: string;
  bucket?: string | undefined;
  bucketVersioning?: string | undefined;
  queueDepth?: number | undefined;
  deadLetterDepth?: number | undefined;
  alarms: {
    name: string;
    state: string;
    reason?: string | undefined;
    since?: string | undefined;
  }[];
  accounts: {
    userId: string;
    status: string;
    linkedAt: string;
    counts: { synced: number; pending: number; enqueued: number; failed: number; deleted: number };
    failures: { feed: string; id: string; reason: string }[];
    budget: {
      limit: number;
      windowSeconds: number;
      used: number;
      available: number;
      nextSlotAt: string;
    };
    watermark?: string | undefined;
    lastSchedulerRunAt?: string | undefined;
    lastSchedulerRun?: Record<string, number | string> | undefined;
  }[];
}

const iso = (t: number | undefined) => (t ? new Date(t).toISOString() : undefined);

async function depth(sqs: SQSClient, url: string | undefined): Promise<number | undefined> {
  return url ? queueDepth(sqs, url) : undefined;
}

export async function awsStatusReport(
  t: StackTarget,
  rate: { limit: number; windowSeconds: number },
  now = Date.now(),
): Promise<AwsStatusReport> {
  const out = await stackOutputs(t);
  const table = requireOutput(out, 'TableName');
  const v = out.values;
  const cfg = t.region ? { region: t.region } : {};
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient(cfg));
  const sqs = new SQSClient(cfg);
  const report: AwsStatusReport = {
    stack: out.stack,
    source: out.source,
    table,
    bucket: v.BucketName,
    alarms: [],
    accounts: [],
  };
  try {
    const ledger = new DynamoLedger(ddb, table);
    const budget = new SlidingWindowBudget(new DynamoBudgetStore(ddb, table), {
      limit: rate.limit,
      windowMs: Math.round(rate.windowSeconds * 1000),
    });
    for (const a of await new DynamoAccountStore(ddb, table).list()) {
      const c = await ledger.counts(a.userId);
      const failed = await ledger.list(a.userId, 'FAILED');
      const b = await budget.inspect(budgetKey(a.userId), now);
      report.accounts.push({
        userId: a.userId,
        status: a.status,
        linkedAt: iso(a.linkedAt) ?? '',
        counts: {
          synced: c.SYNCED,
          pending: c.PENDING,
          enqueued: c.ENQUEUED,
          failed: c.FAILED,
          deleted: c.DELETED,
        },
        failures: failed.map((i) => ({ feed: i.feed, id: i.id, reason: i.lastError ?? '' })),
        budget: {
          limit: b.limit,
          windowSeconds: b.windowMs / 1000,
          used: b.used,
          available: b.available,
          nextSlotAt: new Date(b.nextSlotAt).toISOString(),
        },
        watermark: iso(a.watermark),
        lastSchedulerRunAt: iso(a.lastRunAt),
        lastSchedulerRun: a.lastRun,
      });
    }
    report.queueDepth = await depth(sqs, v.QueueUrl);
    report.deadLetterDepth = await depth(sqs, v.DeadLetterQueueUrl);
    const cw = new CloudWatchClient(cfg);
    const alarms = await cw.send(
      new DescribeAlarmsCommand(
        v.AlarmTopicArn ? { ActionPrefix: v.AlarmTopicArn } : { AlarmNamePrefix: `${out.stack}-` },
      ),
    );
    report.alarms = (alarms.MetricAlarms ?? []).map((a) => ({
      name: a.AlarmName ?? '',
      state: a.StateValue ?? 'UNKNOWN',
      reason: a.StateReason,
      since: a.StateUpdatedTimestamp?.toISOString(),
    }));
    if (v.BucketName) {
      const s3 = new S3Client({ ...cfg, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) });
      const ver = await s3.send(new GetBucketVersioningCommand({ Bucket: v.BucketName }));
      report.bucketVersioning = ver.Status ?? 'never enabled';
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    const err = e as Error;
    throw new CliError(
      `cannot read the deployment of ${out.stack}: ${err.name}: ${err.message}`,
      EXIT.failed,
    );
  }
  return report;
}

export function describeAwsStatus(r: AwsStatusReport, now: number): string {
  const out = [
    `Stack ${r.stack} (outputs from ${r.source}): table ${r.table}, bucket ${r.bucket ?? '?'}`,
  ];
  if (r.accounts.length === 0) out.push('No account linked yet: open the AuthorizeUrl output.');
  for (const a of r.accounts) {
    const c = a.counts;
    out.push(`Account ${a.userId} (${a.status}, linked ${a.linkedAt})`);
    out.push(
      `  synced ${c.synced} · pending ${c.pending} · enqueued ${c.enqueued} · failed ${c.failed} · deleted upstream ${c.deleted}`,
    );
    const next = Date.parse(a.budget.nextSlotAt);
    out.push(
      `  budget: ${a.budget.used}/${a.budget.limit} calls in the last ${formatDuration(a.budget.windowSeconds * 1000)}, ${a.budget.available} available, next slot ${next <= now ? 'now' : `in ${formatDuration(next - now)}`}`,
    );
    if (a.watermark) out.push(`  changes known up to ${a.watermark}`);
    if (a.lastSchedulerRunAt) {
      const lr = a.lastSchedulerRun ?? {};
      out.push(
        `  last scheduler run ${a.lastSchedulerRunAt}: ${lr.apiCalls ?? 0} API calls, ${lr.enqueued ?? 0} enqueued`,
      );
    }
    for (const f of a.failures.slice(0, 20)) out.push(`  failed ${f.feed}/${f.id}: ${f.reason}`);
  }
  out.push(
    `Fetch queue: ${r.queueDepth ?? '?'} messages; dead-letter queue: ${r.deadLetterDepth ?? '?'}`,
  );
  for (const a of r.alarms)
    out.push(`Alarm ${a.name}: ${a.state}${a.since ? ` since ${a.since}` : ''}`);
  if (r.bucketVersioning !== undefined && r.bucketVersioning !== 'Enabled') {
    out.push(`WARNING: bucket versioning is ${r.bucketVersioning}: earlier revisions are not kept`);
  }
  return out.join('\n');
}
