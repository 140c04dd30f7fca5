/**
 * The opt-in Strava mirror (`-c strava=true`): an EventBridge schedule drops a tick on the push
 * queue; each tick runs `pushToStrava` for every ACTIVE account that has Strava tokens, from the
 * account's index (`index/{userId}/activities.ndjson`), until the budget, a poll wait or the
 * deadline stops it (`paused`): the next tick continues. Lambda never sleeps for budget; the
 * push ledger (DynamoDB, compare-and-swap on each intent) keeps concurrent ticks from doubling
 * an upload, and the external_id makes Strava refuse a repeat anyway. Files are TCX (gzip):
 * the FIT SDK is over the Lambda bundle budget.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import { DynamoAccountStore, DynamoBudgetStore } from '../../adapters/aws/dynamo.ts';
import { S3ObjectStore } from '../../adapters/aws/s3.ts';
import { DynamoPushLedger, SsmStravaTokens } from '../../adapters/aws/strava.ts';
import { StravaClient } from '../../core/strava/client.ts';
import { MultiWindowBudget } from '../../core/strava/limits.ts';
import { planFromIndex } from '../../core/strava/plan.ts';
import { type PushSummary, pushToStrava } from '../../core/strava/push.ts';
import type { LambdaContext } from '../http.ts';
import { wrap } from '../middleware.ts';
import { coreLog, type Platform } from '../platform.ts';

const limits = z.pipe(
  z
    .string()
    .check(
      z.regex(/^\d+,\d+,\d+,\d+$/, 'must be four integers: 15-min,daily,read 15-min,read daily'),
    ),
  z.transform((v) => v.split(',').map(Number)),
);

export const StravaPusherEnv = z.object({
  TABLE_NAME: z.string().check(z.minLength(1)),
  BUCKET_NAME: z.string().check(z.minLength(1)),
  STRAVA_CLIENT_ID: z.string().check(z.minLength(1)),
  STRAVA_CLIENT_SECRET_PARAM: z.string().check(z.regex(/^\/[A-Za-z0-9_.\-/]+$/)),
  STRAVA_TOKEN_PARAM_PREFIX: z.string().check(z.regex(/^\/[A-Za-z0-9_.\-/]*\/$/)),
  STRAVA_API_BASE_URL: z.url(),
  STRAVA_OAUTH_BASE_URL: z.url(),
  STRAVA_LIMITS: z.optional(limits),
  STRAVA_MUTE: z._default(z.enum(['true', 'false']), 'true'),
  TOKEN_KMS_KEY_ID: z.optional(z.string().check(z.minLength(1))),
});
export type StravaPusherEnv = z.infer<typeof StravaPusherEnv>;

export function parseStravaPusherEnv(
  env: Record<string, string | undefined> = process.env,
): StravaPusherEnv {
  const r = StravaPusherEnv.safeParse(env);
  if (!r.success) {
    const names = r.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new Error(`invalid environment for the Strava pusher: ${names}`);
  }
  return r.data;
}

/** Stop starting work this long before the function's timeout. */
const DEADLINE_MARGIN_MS = 30_000;

export function createStravaPusherHandler(env: StravaPusherEnv, p: Platform<'ddb' | 's3' | 'ssm'>) {
  const { ddb, s3, ssm } = p.clients;
  const log = coreLog(p.logger);
  const accounts = new DynamoAccountStore(ddb, env.TABLE_NAME);
  const ledger = new DynamoPushLedger(ddb, env.TABLE_NAME);
  const store = new S3ObjectStore(s3, env.BUCKET_NAME);
  const [o15, oDay, r15, rDay] = env.STRAVA_LIMITS ?? [200, 2000, 100, 1000];
  const budget = new MultiWindowBudget(
    new DynamoBudgetStore(ddb, env.TABLE_NAME),
    env.STRAVA_CLIENT_ID,
    {
      overall: [o15!, oDay!],
      read: [r15!, rDay!],
    },
  );
  let secret: string | undefined;
  const clientSecret = async () => {
    if (secret === undefined) {
      const r = await ssm.send(
        new GetParameterCommand({ Name: env.STRAVA_CLIENT_SECRET_PARAM, WithDecryption: true }),
      );
      secret = r.Parameter?.Value ?? '';
    }
    return secret;
  };

  return wrap(
    p,
    async (
      _event: unknown,
      context: LambdaContext,
    ): Promise<{ pushes: (PushSummary & { userId: string })[] }> => {
      const started = p.clock.now();
      const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
      const deadline = started + Math.max(5_000, remaining - DEADLINE_MARGIN_MS);
      const pushes: (PushSummary & { userId: string })[] = [];
      for (const a of await accounts.list()) {
        if (a.status !== 'ACTIVE') continue;
        const tokens = new SsmStravaTokens(
          ssm,
          env.STRAVA_TOKEN_PARAM_PREFIX,
          a.userId,
          env.TOKEN_KMS_KEY_ID,
        );
        if (!(await tokens.get())) continue; // this account is not mirrored to Strava
        const client = new StravaClient({
          app: {
            clientId: env.STRAVA_CLIENT_ID,
            oauthBaseUrl: env.STRAVA_OAUTH_BASE_URL,
            apiBaseUrl: env.STRAVA_API_BASE_URL,
          },
          clientSecret,
          tokens,
          budget,
          clock: p.clock,
          log,
          ...(p.fetch ? { fetch: p.fetch } : {}),
          waitForBudget: false,
          attempts: 2,
        });
        const plan = await planFromIndex(store, a.userId);
        const s = await pushToStrava(
          plan,
          { client, budget, ledger, store, clock: p.clock, log },
          {
            userId: a.userId,
            mute: env.STRAVA_MUTE === 'true',
            prefer: 'tcx',
            deadline,
            maxSleepMs: 5_000,
          },
        );
        pushes.push({ ...s, userId: a.userId });
        p.logger.info('strava push', {
          userId: a.userId,
          stopped: s.stopped,
          uploaded: s.uploaded,
          manual: s.manual,
          failed: s.failed,
          remaining: s.remaining,
          apiCalls: s.apiCalls,
        });
        p.metrics.addMetric('StravaPushed', MetricUnit.Count, s.uploaded + s.manual + s.duplicates);
        p.metrics.addMetric('StravaPushFailed', MetricUnit.Count, s.failed);
        if (s.stopped === 'revoked') p.metrics.addMetric('StravaRevoked', MetricUnit.Count, 1);
        if (p.clock.now() >= deadline) break;
      }
      return { pushes };
    },
  );
}
