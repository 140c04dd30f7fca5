/**
 * GET /callback: consumes the state (conditional delete), checks the browser cookie,
 * exchanges the code, stores the token, records the account, starts the first sync with an
 * async scheduler invoke, and answers `303 See Other` to `/callback?result=<word>` (B7: the
 * code and state leave the address bar and the history; the cookie is cleared on the 303).
 * GET /callback?result=<word> renders the plain, escaped, no-store, no-referrer page for one
 * word of a fixed list. It never echoes input and never logs the code, the state or the token.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoAccountStore, DynamoAuthStateStore } from '../../adapters/aws/dynamo.ts';
import { SsmTokenStore } from '../../adapters/aws/sqs-ssm.ts';
import type { SlidingWindowBudget } from '../../core/budget.ts';
import type { AccountStore, AuthStateStore, TokenStore } from '../../core/ports.ts';
import { completeLink, LinkError, type LinkErrorCode } from '../../core/sync/link.ts';
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
  SECURITY_HEADERS,
} from '../http.ts';
import { wrap } from '../middleware.ts';
import { coreLog, type Platform, safeError } from '../platform.ts';

/** Every page the callback can show, by the only words `?result=` accepts; `next` is the step. */
const AGAIN =
  'Open your newest authorize link again; `npx rk-sync invite` mints a new one-time link.';
export const RESULT_PAGES = {
  linked: {
    status: 200,
    title: 'Runkeeper account linked',
    message:
      'Your backup has started. New and changed activities are saved automatically; you can close this page.',
    next: [
      'The first sync runs now and then every 15 minutes; a long history takes a few hours (the API allows 100 calls per 15 minutes).',
      'Files appear in your S3 bucket under `raw/{userId}/fitnessActivities/`, with GPX, TCX and GeoJSON beside them.',
    ],
  },
  denied: {
    status: 400,
    title: 'Linking did not complete',
    message: 'Access was not granted on Runkeeper.',
    next: [
      'Open your newest authorize link again and choose Allow; `npx rk-sync invite` mints a new one-time link.',
    ],
  },
  expired: {
    status: 400,
    title: 'Linking did not complete',
    message: 'The sign-in took too long. Start again.',
    next: [AGAIN],
  },
  invalid: {
    status: 400,
    title: 'Linking did not complete',
    message: 'The sign-in response was not expected: the link was old or already used.',
    next: [AGAIN],
  },
  other_browser: {
    status: 403,
    title: 'Linking did not complete',
    message: 'The sign-in was started in another browser.',
    next: ['Open the authorize link in this browser and finish there.'],
  },
  rejected: {
    status: 400,
    title: 'Linking did not complete',
    message: 'Runkeeper refused the sign-in. Start again.',
    next: [AGAIN],
  },
  unavailable: {
    status: 502,
    title: 'Linking did not complete',
    message: 'Runkeeper could not be reached. Start again in a moment.',
    next: [AGAIN],
  },
  not_owner: {
    status: 403,
    title: 'Linking did not complete',
    message: 'Another account is already linked.',
    next: ['Ask the owner of this deployment for a one-time link (`npx rk-sync invite`).'],
  },
  error: {
    status: 500,
    title: 'Something went wrong',
    message: 'Please start again later.',
    next: [AGAIN],
  },
} as const satisfies Record<
  string,
  { status: number; title: string; message: string; next: readonly string[] }
>;
export type CallbackResult = keyof typeof RESULT_PAGES;

const RESULT_OF: Record<LinkErrorCode, CallbackResult> = {
  denied: 'denied',
  state_expired: 'expired',
  state_invalid: 'invalid',
  bad_request: 'invalid',
  not_allowed: 'invalid',
  cookie_mismatch: 'other_browser',
  code_rejected: 'rejected',
  provider_unavailable: 'unavailable',
  not_owner: 'not_owner',
};

const isResult = (v: string): v is CallbackResult => Object.hasOwn(RESULT_PAGES, v);

/** The page for `?result=<word>` (and nothing else); anything else is the generic one. */
function resultPage(raw: string): HttpResult {
  const q = parseQuery(raw);
  const words = q.result ?? [];
  const word = Object.keys(q).length === 1 && words.length === 1 ? words[0]! : '';
  const page = RESULT_PAGES[isResult(word) ? word : 'invalid'];
  return htmlPage(page.status, page.title, page.message, undefined, page.next);
}

/** 303 to the result page on this function's own path: the browser drops code and state. */
function seeOther(result: CallbackResult, redirectUri: string | undefined): HttpResult {
  let path = '/callback';
  try {
    if (redirectUri) path = new URL(redirectUri).pathname;
  } catch {
    // Keep the default path.
  }
  return {
    statusCode: 303,
    headers: { location: `${path}?result=${result}`, ...SECURITY_HEADERS },
    cookies: [CLEAR_LINK_COOKIE],
    body: '',
  };
}

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
    tokens: new SsmTokenStore(p.clients.ssm, env.TOKEN_PARAM_PREFIX, {
      kmsKeyId: env.TOKEN_KMS_KEY_ID,
    }),
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
    const raw = event.rawQueryString ?? '';
    if (raw.length <= MAX_QUERY_CHARS && /(^|&)result=/.test(raw)) return resultPage(raw);
    let redirectUri = env.REDIRECT_URI;
    try {
      if (raw.length > MAX_QUERY_CHARS) {
        throw new LinkError('bad_request', 400, 'The sign-in response was malformed.');
      }
      redirectUri = redirectUriFor(env.REDIRECT_URI, event);
      const oauth = {
        authBaseUrl: env.AUTH_BASE_URL,
        clientId: env.CLIENT_ID,
        redirectUri,
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
      return seeOther('linked', redirectUri);
    } catch (e) {
      if (e instanceof LinkError) {
        p.metrics.addMetric('LinkRefused', MetricUnit.Count, 1);
        p.logger.warn('link refused', { reason: e.code, status: e.status });
        return seeOther(RESULT_OF[e.code], redirectUri);
      }
      p.logger.error('callback failed', { error: safeError(e) });
      return seeOther('error', redirectUri);
    }
  });
}
