/**
 * The single DynamoDB table (pk S, sk S; TTL attribute `expiresAt` in epoch seconds; GSI
 * `byWork` on workPk S / workSk S, projection ALL). Every item kind and its keys:
 *
 *   kind      pk                  sk                      other attributes
 *   account   ACCOUNTS            USER#{userId}           userId, status, data (JSON), v
 *   ledger    USER#{userId}       ITEM#{feed}#{id}        the LedgerItem fields, v,
 *                                                         workPk/workSk while PENDING/ENQUEUED
 *   budget    BUDGET#{key}        BUDGET                  calls (number list), blockedUntil,
 *                                                         learnedLimit, learnedWindowMs, v, expiresAt
 *   state     STATE#{sha256}      STATE                   cookieHash, purpose, expiresAtMs, expiresAt
 *   state     (+ inviteHash: the invite that allowed the flow, spent at the callback)
 *   invite    INVITE#{sha256}     INVITE                  expiresAtMs, expiresAt, userId (bound owner)
 *   owner     OWNER               OWNER                   userId, claimedAt (one conditional write
 *                                                         decides who owns the deployment)
 *   import    IMPORT#{jobId}      JOB                     pending (number set of slices), slices,
 *                                                         finishedAt, expiresAt (import-jobs.ts)
 *
 * - Listing accounts is one Query on pk=ACCOUNTS.
 * - `v` is the compare-and-swap version: every write is a Put conditioned on the version read
 *   (or on the item not existing), so concurrent writers never lose an update.
 * - The `byWork` index is sparse: a ledger item carries workPk=WORK#{userId} and
 *   workSk={startSortKey}#{feed}#{id} only while it is PENDING or ENQUEUED (a whole-item Put
 *   without them removes it from the index). Querying it descending returns the newest start
 *   first (pickOrder); an idle scheduler run's `pick` is therefore one Query that returns
 *   nothing. The index is eventually consistent: that is harmless, because `markEnqueued`
 *   re-checks the item with a consistent read and a conditional write.
 * - Only hashes of OAuth state and invite values are stored; tokens never touch this table
 *   (they live in SSM SecureString parameters).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';

export const GSI_BY_WORK = 'byWork';

export const keys = {
  accountsPk: 'ACCOUNTS',
  accountSk: (userId: string) => `USER#${userId}`,
  userPk: (userId: string) => `USER#${userId}`,
  itemPrefix: 'ITEM#',
  itemSk: (feed: string, id: string) => `ITEM#${feed}#${id}`,
  workPk: (userId: string) => `WORK#${userId}`,
  budgetPk: (key: string) => `BUDGET#${key}`,
  budgetSk: 'BUDGET',
  statePk: (hash: string) => `STATE#${hash}`,
  stateSk: 'STATE',
  invitePk: (hash: string) => `INVITE#${hash}`,
  inviteSk: 'INVITE',
  ownerPk: 'OWNER',
  ownerSk: 'OWNER',
} as const;

export function isConditionFailed(e: unknown): boolean {
  return (
    e instanceof ConditionalCheckFailedException ||
    (e as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException'
  );
}

/** Condition for a versioned Put: the item is new (expected 0) or still at `expected`. */
export function versionCondition(expected: number): {
  ConditionExpression: string;
  ExpressionAttributeValues?: Record<string, unknown>;
} {
  return expected === 0
    ? { ConditionExpression: 'attribute_not_exists(pk)' }
    : { ConditionExpression: 'v = :v', ExpressionAttributeValues: { ':v': expected } };
}

export const toEpochSeconds = (ms: number): number => Math.ceil(ms / 1000);
