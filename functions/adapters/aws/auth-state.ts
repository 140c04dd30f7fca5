/**
 * DynamoDB adapter for the OAuth flow (table layout: ./table.ts): pending states, owner-minted
 * invites (hashes only, optionally bound to the owner's user id) and the fixed owner item,
 * claimed by one conditional write so two concurrent first links cannot both succeed.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import type { AuthStateStore, Invite, PendingAuth } from '../../core/ports.ts';
import { isConditionFailed, keys, toEpochSeconds } from './table.ts';

export class DynamoAuthStateStore implements AuthStateStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  async create(p: PendingAuth): Promise<void> {
    await this.#db.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          pk: keys.statePk(p.stateHash),
          sk: keys.stateSk,
          cookieHash: p.cookieHash,
          purpose: p.purpose,
          ...(p.inviteHash !== undefined ? { inviteHash: p.inviteHash } : {}),
          expiresAtMs: p.expiresAt,
          expiresAt: toEpochSeconds(p.expiresAt),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** Conditional delete returning the old item: exactly one caller gets it. */
  async #take(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
    try {
      const r = await this.#db.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk, sk },
          ConditionExpression: 'attribute_exists(pk)',
          ReturnValues: 'ALL_OLD',
        }),
      );
      return r.Attributes;
    } catch (e) {
      if (isConditionFailed(e)) return undefined;
      throw e;
    }
  }

  async consume(stateHash: string): Promise<PendingAuth | undefined> {
    const old = await this.#take(keys.statePk(stateHash), keys.stateSk);
    if (!old) return undefined;
    return {
      stateHash,
      cookieHash: String(old.cookieHash),
      expiresAt: Number(old.expiresAtMs),
      purpose: old.purpose === 'invite' ? 'invite' : 'first-link',
      ...(typeof old.inviteHash === 'string' ? { inviteHash: old.inviteHash } : {}),
    };
  }

  async createInvite(inviteHash: string, expiresAt: number, userId?: string): Promise<void> {
    await this.#db.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          pk: keys.invitePk(inviteHash),
          sk: keys.inviteSk,
          ...(userId !== undefined ? { userId } : {}),
          expiresAtMs: expiresAt,
          expiresAt: toEpochSeconds(expiresAt),
        },
      }),
    );
  }

  async peekInvite(inviteHash: string, now: number): Promise<Invite | undefined> {
    const r = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: keys.invitePk(inviteHash), sk: keys.inviteSk },
        ConsistentRead: true,
      }),
    );
    const exp = Number(r.Item?.expiresAtMs);
    if (!r.Item || !(exp > now)) return undefined;
    return {
      expiresAt: exp,
      ...(typeof r.Item.userId === 'string' ? { userId: r.Item.userId } : {}),
    };
  }

  async consumeInvite(inviteHash: string, now: number): Promise<boolean> {
    const old = await this.#take(keys.invitePk(inviteHash), keys.inviteSk);
    // TTL deletion is lazy (up to days late): the expiry is checked here, not left to TTL.
    return old !== undefined && Number(old.expiresAtMs) > now;
  }

  async claimOwner(userId: string, now: number): Promise<boolean> {
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: { pk: keys.ownerPk, sk: keys.ownerSk, userId, claimedAt: now },
          ConditionExpression: 'attribute_not_exists(pk) OR userId = :u',
          ExpressionAttributeValues: { ':u': userId },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  async owner(): Promise<string | undefined> {
    const r = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: keys.ownerPk, sk: keys.ownerSk },
        ConsistentRead: true,
      }),
    );
    return typeof r.Item?.userId === 'string' ? r.Item.userId : undefined;
  }

  async releaseOwner(userId: string): Promise<void> {
    try {
      await this.#db.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk: keys.ownerPk, sk: keys.ownerSk },
          ConditionExpression: 'userId = :u',
          ExpressionAttributeValues: { ':u': userId },
        }),
      );
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
    }
  }
}
