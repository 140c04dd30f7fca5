/**
 * The fetch queue (SQS) and the token store (SSM SecureString parameters).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  DeleteParameterCommand,
  GetParameterCommand,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { assertUserId } from '../../core/keys.ts';
import type { FetchMessage, TokenStore, WorkQueue } from '../../core/ports.ts';
import { sendInBatches } from './sqs-batch.ts';

export class SqsWorkQueue implements WorkQueue {
  readonly #sqs: SQSClient;
  readonly #url: string;
  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#url = queueUrl;
  }

  async send(messages: { body: FetchMessage; delaySeconds: number }[]): Promise<void> {
    await sendInBatches(
      this.#sqs,
      this.#url,
      messages.map((m) => ({
        MessageBody: JSON.stringify(m.body),
        DelaySeconds: Math.min(900, Math.max(0, Math.round(m.delaySeconds))),
      })),
    );
  }
}

/** How a writable token store encrypts what it writes. */
export interface TokenWriteOptions {
  /**
   * KMS key for the SecureStrings (the stack's customer-managed key). Unset: `KeyId` is left
   * out of PutParameter, so SSM uses the account's AWS-managed `aws/ssm` key.
   */
  readonly kmsKeyId?: string | undefined;
}

/**
 * One SecureString per linked account: `${prefix}${userId}`, encrypted under the stack key or
 * `aws/ssm`. Read-only unless constructed with write options (only the callback writes).
 */
export class SsmTokenStore implements TokenStore {
  readonly #ssm: SSMClient;
  readonly #prefix: string;
  readonly #write: TokenWriteOptions | undefined;
  constructor(ssm: SSMClient, prefix: string, write?: TokenWriteOptions) {
    if (!prefix.startsWith('/') || !prefix.endsWith('/')) {
      throw new Error('token parameter prefix must start and end with /');
    }
    this.#ssm = ssm;
    this.#prefix = prefix;
    this.#write = write;
  }

  #name(userId: string): string {
    return `${this.#prefix}${assertUserId(userId)}`;
  }

  async get(userId: string): Promise<string | undefined> {
    try {
      const r = await this.#ssm.send(
        new GetParameterCommand({ Name: this.#name(userId), WithDecryption: true }),
      );
      return r.Parameter?.Value;
    } catch (e) {
      if ((e as { name?: unknown } | null)?.name === 'ParameterNotFound') return undefined;
      throw e;
    }
  }

  async put(userId: string, token: string): Promise<void> {
    if (!this.#write) throw new Error('token store is read-only here (no write options)');
    const { kmsKeyId } = this.#write;
    await this.#ssm.send(
      new PutParameterCommand({
        Name: this.#name(userId),
        Value: token,
        Type: 'SecureString',
        ...(kmsKeyId ? { KeyId: kmsKeyId } : {}),
        Overwrite: true,
        Description: 'rk-sync: Runkeeper access token of one linked account',
      }),
    );
  }

  async delete(userId: string): Promise<void> {
    try {
      await this.#ssm.send(new DeleteParameterCommand({ Name: this.#name(userId) }));
    } catch (e) {
      if ((e as { name?: unknown } | null)?.name !== 'ParameterNotFound') throw e;
    }
  }
}

/**
 * Keeps tokens read from SSM for a few minutes inside one warm Lambda container: every
 * fetch would otherwise cost an SSM GetParameter plus a KMS Decrypt. Revocation does not wait
 * for the cache: callers check the account's status (REVOKED) before using a token.
 */
export class CachedTokenStore implements TokenStore {
  readonly #inner: TokenStore;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { token: string | undefined; at: number }>();
  constructor(inner: TokenStore, ttlMs = 300_000, now: () => number = Date.now) {
    this.#inner = inner;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }
  async get(userId: string): Promise<string | undefined> {
    const hit = this.#cache.get(userId);
    if (hit && hit.token !== undefined && this.#now() - hit.at < this.#ttlMs) return hit.token;
    const token = await this.#inner.get(userId);
    this.#cache.set(userId, { token, at: this.#now() });
    return token;
  }
  async put(userId: string, token: string): Promise<void> {
    this.#cache.delete(userId);
    await this.#inner.put(userId, token);
  }
  async delete(userId: string): Promise<void> {
    this.#cache.delete(userId);
    await this.#inner.delete(userId);
  }
}
