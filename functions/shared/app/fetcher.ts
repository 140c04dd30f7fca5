/**
 * SQS consumer (batch size 1): each record is one FetchMessage → `handleFetch`.
 * - A transient error is thrown by the core and becomes a batch item failure: the queue
 *   redelivers after the visibility timeout and moves the message to the DLQ after
 *   maxReceiveCount (5).
 * - A malformed body is poison: it is logged (message id and reason only) and also reported
 *   as a failure, so it ends in the DLQ where the DLQ alarm makes it visible (INV-DLQ),
 *   instead of being silently dropped.
 * - Budget deferrals, deletions, revocations and invalid payloads are handled by the core
 *   and acknowledged (H2: healthy work never burns receive counts).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod/mini';
import { FEED_NAMES, type FeedName } from '../../core/keys.ts';
import type { FetchMessage } from '../../core/ports.ts';
import { handleFetch } from '../../core/sync/fetcher.ts';
import { syncDeps } from '../compose.ts';
import type { EnvOf } from '../env.ts';
import type { LambdaContext } from '../http.ts';
import { wrap } from '../middleware.ts';
import { type Platform, safeError } from '../platform.ts';

export interface SqsRecord {
  messageId: string;
  receiptHandle?: string;
  body: string;
  attributes?: Record<string, string | undefined>;
  eventSource?: string;
}
export interface SqsEvent {
  Records: SqsRecord[];
}
export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

const FetchMessageSchema = z.object({
  userId: z.string().check(z.regex(/^[0-9]{1,20}$/)),
  feed: z.enum(FEED_NAMES as [FeedName, ...FeedName[]]),
  id: z.string().check(z.regex(/^[0-9]{1,20}$/)),
  rev: z.int().check(z.minimum(0)),
  deferrals: z.optional(z.int().check(z.minimum(0))),
});

export class PoisonMessageError extends Error {
  constructor(reason: string) {
    super(`poison message: ${reason}`);
    this.name = 'PoisonMessageError';
  }
}

export function parseFetchMessage(body: string): FetchMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new PoisonMessageError('body is not JSON');
  }
  const r = FetchMessageSchema.safeParse(json);
  if (!r.success) throw new PoisonMessageError('body is not a fetch message');
  return r.data;
}

export function createFetcherHandler(
  env: EnvOf<'fetcher'>,
  p: Platform<'ddb' | 's3' | 'sqs' | 'ssm'>,
) {
  const { deps, cfg } = syncDeps(env, p);
  const processor = new BatchProcessor(EventType.SQS);
  const record = async (r: SqsRecord): Promise<string> => {
    let msg: FetchMessage;
    try {
      msg = parseFetchMessage(r.body);
    } catch (e) {
      p.metrics.addMetric('PoisonMessages', MetricUnit.Count, 1);
      p.logger.error('poison message left for the dead-letter queue', {
        messageId: r.messageId,
        receiveCount: r.attributes?.ApproximateReceiveCount,
        reason: (e as Error).message,
      });
      throw e;
    }
    try {
      const outcome = await handleFetch(deps, cfg, msg, p.crash);
      p.metrics.addMetric(`Fetch_${outcome}`, MetricUnit.Count, 1);
      p.logger.debug('fetched', { userId: msg.userId, feed: msg.feed, id: msg.id, outcome });
      return outcome;
    } catch (e) {
      p.metrics.addMetric('FetchErrors', MetricUnit.Count, 1);
      p.logger.warn('fetch failed; the queue will redeliver', {
        userId: msg.userId,
        id: msg.id,
        receiveCount: r.attributes?.ApproximateReceiveCount,
        error: safeError(e),
      });
      throw e;
    }
  };
  return wrap(p, async (event: SqsEvent, context: LambdaContext): Promise<BatchResponse> => {
    return (await processPartialResponse(event as never, record as never, processor, {
      context: context as never,
      throwOnFullBatchFailure: false,
    })) as BatchResponse;
  });
}
