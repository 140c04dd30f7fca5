/**
 * GET /callback: consumes the state (conditional delete), checks the browser cookie,
 * exchanges the code, stores the token, records the account, starts the first sync with an
 * async scheduler invoke, and answers a plain no-store page. It never echoes input and
 * never logs the code, the state or the token.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoAccountStore, DynamoAuthStateStore } from '../../adapters/aws/dynamo.ts';
import { SsmTokenStore } from '../../adapters/aws/sqs-ssm.ts';
import type { SlidingWindowBudget } from '../../core/budget.ts';
import type { AccountStore, AuthStateStore, TokenStore } from '../../core/ports.ts';
import { completeLink, LinkError } from '../../core/sync/link.ts';
import { apiFactory, budgetFrom } from '../api.ts';
import { lambdaClient } from '../clients.ts';
import type { EnvOf } from '../env.ts';
import {
  CLEAR_LINK_COOKIE,
  type HttpEvent,
  type HttpResult,
  htmlPage,
  LINK_COOKIE,
  MAX_QUERY_CHARS,
  parseQuery,
  readCookie,
  redirectUriFor,
} from '../http.ts';
import { wrap } from '../middleware.ts';
import { coreLog, type Platform, safeError } from '../platform.ts';

/** The client secret is cached for five minutes (Powertools Parameters). */
export const SECRET_MAX_AGE_SECONDS = 300;

/** Async (Event) invoke of the scheduler function for one user. */
export function lambdaSchedulerInvoker(
  functionName: string,
  lambda: LambdaClient = lambdaClient(),
): (userId: string) => Promise<void> {
  return async (userId) => {
    await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify({ userId })),
      }),
    );
  };
}

export function clientSecretReader(p: Platform<'ssm'>, name: string): () => Promise<string> {
  const provider = new SSMProvider({ awsSdkV3Client: p.clients.ssm });
  return async () => {
    const v = await provider.get(name, { decrypt: true, maxAge: SECRET_MAX_AGE_SECONDS });
    if (typeof v !== 'string' || v.length === 0) throw new Error('client secret is not set');
    return v;
  };
}

export interface CallbackPorts {
  states: AuthStateStore;
  accounts: AccountStore;
  tokens: TokenStore;
  budget: SlidingWindowBudget;
  clientSecret: () => Promise<string>;
}

export function awsCallbackPorts(
  env: EnvOf<'callback'>,
  p: Platform<'ddb' | 'ssm'>,
): CallbackPorts {
  return {
    states: new DynamoAuthStateStore(p.clients.ddb, env.TABLE_NAME),
    accounts: new DynamoAccountStore(p.clients.ddb, env.TABLE_NAME),
    tokens: new SsmTokenStore(p.clients.ssm, env.TOKEN_PARAM_PREFIX, env.TOKEN_KMS_KEY_ID),
    budget: budgetFrom(env, p),
    clientSecret: clientSecretReader(p, env.CLIENT_SECRET_PARAM),
  };
}

export function createCallbackHandler(
  env: EnvOf<'callback'>,
  p: Platform<'ddb' | 'ssm'>,
  ports: CallbackPorts = awsCallbackPorts(env, p),
) {
  const invoke = p.invokeScheduler ?? lambdaSchedulerInvoker(env.SCHEDULER_FUNCTION_NAME);
  const deps = {
    ...ports,
    clock: p.clock,
    log: coreLog(p.logger),
    api: apiFactory(env.API_BASE_URL, ports.budget, p),
  };
  return wrap(p, async (event: HttpEvent): Promise<HttpResult> => {
    const clear = [CLEAR_LINK_COOKIE];
    try {
      const raw = event.rawQueryString ?? '';
      if (raw.length > MAX_QUERY_CHARS) {
        throw new LinkError('bad_request', 400, 'The sign-in response was malformed.');
      }
      const oauth = {
        authBaseUrl: env.AUTH_BASE_URL,
        clientId: env.CLIENT_ID,
        redirectUri: redirectUriFor(env.REDIRECT_URI, event),
        timeoutMs: 5_000,
        ...(p.fetch ? { fetch: p.fetch } : {}),
      };
      const { userId, relinked } = await completeLink(
        { ...deps, oauth },
        { query: parseQuery(raw), cookie: readCookie(event, LINK_COOKIE) },
      );
      p.metrics.addMetric('AccountLinked', MetricUnit.Count, 1);
      p.logger.info('account linked', { userId, relinked });
      try {
        await invoke(userId);
      } catch (e) {
        // Not fatal: the next scheduled run starts the sync anyway.
        p.logger.warn('could not start the first sync now; the schedule will', {
          error: safeError(e),
        });
      }
      return htmlPage(
        200,
        'Runkeeper account linked',
        'Your backup has started. New and changed activities are saved automatically; you can close this page.',
        clear,
      );
    } catch (e) {
      if (e instanceof LinkError) {
        p.metrics.addMetric('LinkRefused', MetricUnit.Count, 1);
        p.logger.warn('link refused', { reason: e.code, status: e.status });
        return htmlPage(e.status, 'Linking did not complete', e.message, clear);
      }
      p.logger.error('callback failed', { error: safeError(e) });
      return htmlPage(500, 'Something went wrong', 'Please start again later.', clear);
    }
  });
}
