/**
 * AWS adapters of the Strava push: the push ledger as items of the single table
 * (pk `PUSH#{dest}#{userId}`, sk `ITEM#{id}`, the record as JSON, `v` for compare-and-swap)
 * and the Strava tokens of a user as one SSM SecureString (JSON), replaced in one PutParameter
 * so a rotated refresh token is never half-written.
 */

import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { assertUserId } from '../../core/keys.ts';
import type { PushLedger, PushRecord } from '../../core/strava/ledger.ts';
import type { StravaTokenStore, StravaTokens } from '../../core/strava/oauth.ts';
import { isConditionFailed, versionCondition } from './table.ts';

const pk = (dest: string, userId: string) => `PUSH#${dest}#${assertUserId(userId)}`;
const sk = (id: string) => `ITEM#${id}`;

export class DynamoPushLedger implements PushLedger {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  async get(dest: string, userId: string, id: string): Promise<PushRecord | undefined> {
    const r = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: pk(dest, userId), sk: sk(id) },
        ConsistentRead: true,
      }),
    );
    return r.Item
      ? { ...(JSON.parse(String(r.Item.data)) as PushRecord), version: Number(r.Item.v) }
      : undefined;
  }

  async save(rec: PushRecord): Promise<boolean> {
    const { version, ...data } = rec;
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: pk(rec.dest, rec.userId),
            sk: sk(rec.id),
            state: rec.state,
            data: JSON.stringify(data),
            v: version + 1,
          },
          ...versionCondition(version),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  async list(dest: string, userId: string): Promise<PushRecord[]> {
    const out: PushRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk(dest, userId) },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      for (const it of r.Items ?? []) {
        out.push({ ...(JSON.parse(String(it.data)) as PushRecord), version: Number(it.v) });
      }
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }
}

export class SsmStravaTokens implements StravaTokenStore {
  readonly #ssm: SSMClient;
  readonly #name: string;
  readonly #kmsKeyId: string | undefined;
  constructor(ssm: SSMClient, prefix: string, userId: string, kmsKeyId?: string) {
    if (!prefix.startsWith('/') || !prefix.endsWith('/')) {
      throw new Error('Strava token parameter prefix must start and end with /');
    }
    this.#ssm = ssm;
    this.#name = `${prefix}${assertUserId(userId)}`;
    this.#kmsKeyId = kmsKeyId;
  }

  async get(): Promise<StravaTokens | undefined> {
    try {
      const r = await this.#ssm.send(
        new GetParameterCommand({ Name: this.#name, WithDecryption: true }),
      );
      return r.Parameter?.Value ? (JSON.parse(r.Parameter.Value) as StravaTokens) : undefined;
    } catch (e) {
      if ((e as { name?: unknown } | null)?.name === 'ParameterNotFound') return undefined;
      throw e;
    }
  }

  async put(t: StravaTokens): Promise<void> {
    await this.#ssm.send(
      new PutParameterCommand({
        Name: this.#name,
        Value: JSON.stringify(t),
        Type: 'SecureString',
        ...(this.#kmsKeyId ? { KeyId: this.#kmsKeyId } : {}),
        Overwrite: true,
        Description: 'rk-sync: Strava tokens of one linked athlete',
      }),
    );
  }
}
