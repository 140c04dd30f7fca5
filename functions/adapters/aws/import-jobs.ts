/**
 * The sliced ZIP import's job item (DynamoDB `IMPORT#{jobId}` / `JOB`) and its queue.
 * `pending` is a number set: removing a slice is a DELETE from the set, idempotent under
 * re-delivery, and exactly one writer sees it become empty (ALL_NEW after its own delete).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ImportJobs, SliceMessage, SliceQueue } from '../../core/import/slices.ts';
import { sendInBatches } from './sqs-batch.ts';
import { isConditionFailed } from './table.ts';

/** Job items expire 30 days after the upload (the data they describe stays). */
const JOB_TTL_SECONDS = 30 * 86_400;

export class DynamoImportJobs implements ImportJobs {
  readonly #ddb: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => number;
  constructor(ddb: DynamoDBDocumentClient, table: string, now: () => number = Date.now) {
    this.#ddb = ddb;
    this.#table = table;
    this.#now = now;
  }

  #key(jobId: string) {
    return { pk: `IMPORT#${jobId}`, sk: 'JOB' };
  }

  async begin(jobId: string, slices: number[]): Promise<{ pending: number[]; finished: boolean }> {
    if (slices.length === 0) return { pending: [], finished: false };
    try {
      await this.#ddb.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...this.#key(jobId),
            pending: new Set(slices),
            slices: slices.length,
            expiresAt: Math.floor(this.#now() / 1000) + JOB_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { pending: slices, finished: false };
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
    }
    const got = await this.#ddb.send(
      new GetCommand({ TableName: this.#table, Key: this.#key(jobId), ConsistentRead: true }),
    );
    const pending = got.Item?.pending as Set<number> | undefined;
    return {
      pending: [...(pending ?? [])].map(Number).sort((a, b) => a - b),
      finished: got.Item?.finishedAt !== undefined,
    };
  }

  async complete(jobId: string, n: number): Promise<number> {
    const r = await this.#ddb.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: this.#key(jobId),
        UpdateExpression: 'DELETE pending :n',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':n': new Set([n]) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return (r.Attributes?.pending as Set<number> | undefined)?.size ?? 0;
  }

  async finish(jobId: string): Promise<void> {
    await this.#ddb.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: this.#key(jobId),
        UpdateExpression: 'SET finishedAt = :t',
        ExpressionAttributeValues: { ':t': this.#now() },
      }),
    );
  }
}

export class SqsSliceQueue implements SliceQueue {
  readonly #sqs: SQSClient;
  readonly #url: string;
  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#url = queueUrl;
  }

  async send(messages: SliceMessage[]): Promise<void> {
    await sendInBatches(
      this.#sqs,
      this.#url,
      messages.map((m) => ({ MessageBody: JSON.stringify(m) })),
    );
  }
}
