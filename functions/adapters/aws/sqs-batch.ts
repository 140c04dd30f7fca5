/** Sending to SQS in batches (the fetch queue and the import queue). */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** SendMessageBatch by tens, retrying the entries SQS failed; a sender fault throws. */
export async function sendInBatches(
  sqs: SQSClient,
  queueUrl: string,
  messages: { MessageBody: string; DelaySeconds?: number }[],
): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    let entries = messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), ...m }));
    for (let attempt = 0; attempt < 3 && entries.length > 0; attempt++) {
      const r = await sqs.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
      );
      const failed = new Set((r.Failed ?? []).map((f) => f.Id));
      const permanent = (r.Failed ?? []).filter((f) => f.SenderFault);
      if (permanent.length > 0) {
        throw new Error(`SQS refused ${permanent.length} messages (${permanent[0]?.Code})`);
      }
      entries = entries.filter((e) => failed.has(e.Id));
    }
    if (entries.length > 0) throw new Error(`SQS did not accept ${entries.length} messages`);
  }
}
