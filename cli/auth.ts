/**
 * `rk-sync auth`: the OAuth authorization-code flow with a loopback redirect
 * (`http://127.0.0.1:<port>/callback`, RFC 8252). An unguessable state is minted per
 * run, checked in constant time and usable once; the code is exchanged, the user is
 * resolved via /user, the token goes to the 0600 credentials file and the account to
 * the ledger database. The token is never printed or logged.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { budgetKey, memoryBudget } from '../functions/core/budget.ts';
import type { Clock } from '../functions/core/clock.ts';
import { describeError, OAuthError } from '../functions/core/errors.ts';
import { HealthGraphClient, LOCAL_RETRY } from '../functions/core/healthgraph/client.ts';
import { authorizeUrl, exchangeCode } from '../functions/core/healthgraph/oauth.ts';
import { assertUserId } from '../functions/core/keys.ts';
import type { Account } from '../functions/core/ports.ts';
import { SECURITY_HEADERS } from '../functions/shared/http.ts';
import { renderPage } from '../functions/shared/pages.ts';
import { CliError, EXIT, Interrupted } from './errors.ts';
import type { LocalStores } from './local.ts';
import { budgetConfig, budgetFor } from './local.ts';
import { runnable } from './next-step.ts';

export interface AuthOptions {
  authBaseUrl: string;
  apiBaseUrl: string;
  clientId: string;
  clientSecret: () => Promise<string>;
  /** 0 = ephemeral (the real Runkeeper app registration needs a fixed one). */
  port: number;
  timeoutMs: number;
  clock: Clock;
  signal?: AbortSignal | undefined;
  /** Show the URL to the user (and open a browser), or drive it (the demo). */
  onUrl: (url: string) => void | Promise<void>;
  rateLimit: number;
  rateWindowSeconds: number;
  /** The command that starts this sign-in again (shown on a refusal); default `npx rk-sync auth`. */
  again?: string | undefined;
  /** The success page's next steps; default: run the first sync, where the files go. */
  next?: ((userId: string) => string[]) | undefined;
}

export interface AuthResult {
  userId: string;
  relinked: boolean;
}

/** What a person does after linking from the terminal: the first sync, and where files go. */
export function defaultNext(dataDir: string, userId: string): string[] {
  return [
    `Back in the terminal, run \`${runnable('sync', dataDir)}\`: the first backup starts at once and shows its progress.`,
    `Files go to \`${join(dataDir, 'raw', userId, 'fitnessActivities')}\` (each activity as received), with GPX, TCX and GeoJSON under \`${dataDir}\`.`,
    'You can close this window.',
  ];
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function authorize(stores: LocalStores, o: AuthOptions): Promise<AuthResult> {
  const state = randomBytes(32).toString('base64url');
  let consumed = false;
  let settle!: { resolve: (r: AuthResult) => void; reject: (e: unknown) => void };
  const done = new Promise<AuthResult>((resolve, reject) => {
    settle = { resolve, reject };
  });
  done.catch(() => {}); // awaited below; never an unhandled rejection if onUrl throws first
  let redirectUri = '';

  const host = new URL(o.authBaseUrl).host;
  const again = o.again ?? 'npx rk-sync auth';
  const reply = (
    res: ServerResponse,
    status: number,
    title: string,
    message: string,
    more: { next?: string[]; account?: string } = {},
  ) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS });
    res.end(renderPage({ title, message, tone: status < 400 ? 'ok' : 'problem', ...more }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/callback') {
      reply(res, 404, 'Not found', 'This address only receives the Runkeeper sign-in.');
      return;
    }
    const one = (name: string): string | undefined => {
      const all = url.searchParams.getAll(name);
      return all.length === 1 ? all[0] : undefined;
    };
    const got = one('state');
    // A request without our state (a stray or forged one) is ignored: keep waiting.
    if (consumed || !got || !same(got, state)) {
      reply(
        res,
        400,
        'This sign-in link is out of date',
        'It belongs to an earlier or already finished sign-in, so nothing was changed.',
        {
          next: [
            'Use the newest link printed in your terminal.',
            `If that one is gone too, run \`${again}\` again for a fresh link.`,
          ],
        },
      );
      return;
    }
    consumed = true; // single use, whatever happens next
    if (url.searchParams.has('error')) {
      reply(res, 400, 'Access was not granted', `rk-sync was not allowed on ${host}.`, {
        next: [`To try again, run \`${again}\` in the terminal and choose Allow.`],
      });
      settle.reject(
        new CliError(
          `access was not granted on ${host}; run "${again}" again and choose Allow`,
          EXIT.unauthorised,
        ),
      );
      return;
    }
    const code = one('code');
    if (!code || !/^[A-Za-z0-9._~+/=-]{1,512}$/.test(code)) {
      reply(res, 400, 'Not authorised', 'The sign-in response had no usable code.', {
        next: [`Run \`${again}\` in the terminal again.`],
      });
      settle.reject(new CliError('the sign-in response had no usable code', EXIT.unauthorised));
      return;
    }
    try {
      const r = await complete(stores, o, redirectUri, code);
      reply(
        res,
        200,
        'Runkeeper account linked',
        `rk-sync can now back up this account from ${host}.`,
        {
          account: `Runkeeper user ${r.userId}`,
          next: o.next?.(r.userId) ?? defaultNext(stores.dataDir, r.userId),
        },
      );
      settle.resolve(r);
    } catch (e) {
      reply(res, 502, 'Not authorised', 'The sign-in could not be completed.', {
        next: ['The terminal says why and what to do.'],
      });
      settle.reject(e);
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) reply(res, 500, 'Error', 'Unexpected error.');
      settle.reject(e);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          e.code === 'EADDRINUSE'
            ? `port ${o.port} on 127.0.0.1 is in use; choose another with --port (it must match the app's redirect URI)`
            : `cannot listen on 127.0.0.1:${o.port} (${e.code ?? e.message})`,
          EXIT.failed,
        ),
      ),
    );
    server.listen(o.port, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  redirectUri = `http://127.0.0.1:${port}/callback`;

  const timer = setTimeout(
    () =>
      settle.reject(
        new CliError(
          `no answer from the browser within ${Math.round(o.timeoutMs / 1000)} s; run rk-sync auth again`,
          EXIT.unauthorised,
        ),
      ),
    o.timeoutMs,
  );
  const onAbort = () => settle.reject(new Interrupted('authorisation interrupted'));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const url = authorizeUrl(
      { authBaseUrl: o.authBaseUrl, clientId: o.clientId, redirectUri },
      state,
    );
    await o.onUrl(url);
    return await done;
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

async function complete(
  stores: LocalStores,
  o: AuthOptions,
  redirectUri: string,
  code: string,
): Promise<AuthResult> {
  const tokenAt = o.clock.now();
  let token: string;
  try {
    token = await exchangeCode(
      { authBaseUrl: o.authBaseUrl, clientId: o.clientId, redirectUri },
      await o.clientSecret(),
      code,
    );
  } catch (e) {
    if (e instanceof OAuthError && !e.retryable) {
      throw new CliError(
        `Runkeeper refused the sign-in (${e.code}); check --client-id and the client secret`,
        EXIT.unauthorised,
      );
    }
    throw new CliError(`the token exchange failed: ${describeError(e)}`, EXIT.failed);
  }
  // The user is unknown until /user answers: spend from a throwaway budget, then record the calls.
  const probe = new HealthGraphClient(
    { apiBaseUrl: o.apiBaseUrl },
    {
      token,
      budget: memoryBudget(),
      budgetKey: 'pending',
      clock: o.clock,
      retry: LOCAL_RETRY,
      signal: o.signal,
    },
  );
  let userId: string;
  let resources: Record<string, string>;
  try {
    const user = await probe.getUser();
    userId = assertUserId(user.userId);
    resources = user.resources;
  } catch (e) {
    throw new CliError(`could not read your Runkeeper profile: ${describeError(e)}`, EXIT.failed);
  }
  const budget = budgetFor(stores.db, budgetConfig(o.rateLimit, o.rateWindowSeconds));
  await budget.record(budgetKey(userId), tokenAt);
  for (let i = 0; i < probe.calls; i++) await budget.record(budgetKey(userId), o.clock.now());

  await stores.tokens.put(userId, token);
  const now = o.clock.now();
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await stores.accounts.get(userId);
    // discoveredAt 0: the first sync refreshes /user and stores profile, settings and records.
    const account: Account = existing
      ? { ...existing, status: 'ACTIVE', revokedAt: undefined, resources, discoveredAt: 0 }
      : {
          userId,
          status: 'ACTIVE',
          linkedAt: now,
          resources,
          discoveredAt: 0,
          cursors: {},
          version: 0,
        };
    if (await stores.accounts.save(account)) {
      stores.db.setMeta('api_base_url', o.apiBaseUrl);
      stores.db.setMeta('auth_base_url', o.authBaseUrl);
      stores.db.setMeta('client_id', o.clientId);
      return { userId, relinked: existing !== undefined };
    }
  }
  throw new CliError('could not record the account (concurrent update); run auth again');
}

/** Read a secret from the terminal without echoing it. */
export async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    throw new CliError(
      'the client secret is needed: set RK_CLIENT_SECRET (no terminal to prompt on)',
      EXIT.usage,
    );
  }
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            resolve(value);
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            reject(new Interrupted());
            return;
          }
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}
