/**
 * Drives the sliced ZIP import (issue #14 §1) the way Lambda's SQS poller does: receive from
 * the import queue (moto), invoke the importer with the record, delete on success; on a throw
 * the message is made visible again at once (its visibility timeout "expired") so it comes back.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SliceSummary } from '../../functions/shared/app/importer.ts';
import type { LambdaContext } from '../../functions/shared/http.ts';

type Importer = (
  event: { Records: { eventSource: string; messageId: string; body: string }[] },
  context: LambdaContext,
) => Promise<{ slices: SliceSummary[] }>;

export interface DrainResult {
  /** Every successful invocation's slice summary, in order. */
  slices: SliceSummary[];
  /** Invocations that threw (the message came back). */
  failures: number;
  /** Invocations made. */
  invocations: number;
}

export async function drainImportQueue(
  sqs: SQSClient,
  queueUrl: string,
  importer: Importer,
  opts: {
    /** A fresh context per invocation (its own simulated deadline). */
    context: () => LambdaContext;
    /** Deliver this message twice (as SQS may) before deleting it. */
    duplicate?: (body: string, n: number) => boolean;
    maxInvocations?: number;
  },
): Promise<DrainResult> {
  const out: DrainResult = { slices: [], failures: 0, invocations: 0 };
  const max = opts.maxInvocations ?? 5_000;
  let empty = 0;
  while (empty < 2) {
    const r = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    const msgs = r.Messages ?? [];
    empty = msgs.length === 0 ? empty + 1 : 0;
    for (const m of msgs) {
      const body = m.Body ?? '';
      const record = { eventSource: 'aws:sqs', messageId: m.MessageId ?? '', body };
      const times = opts.duplicate?.(body, out.invocations) ? 2 : 1;
      try {
        for (let i = 0; i < times; i++) {
          if (++out.invocations > max) throw new Error(`more than ${max} invocations`);
          const res = await importer({ Records: [record] }, opts.context());
          out.slices.push(...res.slices);
        }
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }),
        );
      } catch (e) {
        if (out.invocations > max) throw e;
        out.failures++;
        await sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
    }
  }
  return out;
}
