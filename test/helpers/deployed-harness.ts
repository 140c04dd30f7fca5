/**
 * The deployed design, offline: moto (DynamoDB, S3, SQS, SSM, KMS) created from the
 * synthesised stack, the Health Graph simulator as Runkeeper, the real Lambda handlers
 * invoked in-process with real SDK clients, and a small poller standing in for the SQS
 * event source mapping (batch 1, concurrency 1, delete on success, leave failures).
 *
 * Time is scaled down, not faked: moto honours real DelaySeconds and visibility timeouts,
 * so the rate limit is e.g. 40 calls per 2 s and the queue's visibility timeout is the
 * template's divided by `timeScale`.
 *
 * Shared by test/integration/e2e-deployed.test.ts and scripts/e2e-local.ts: each step
 * returns plain data; the test asserts on it, the script prints it.
 */

import { HeadObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { mintStackInvite } from '../../cli/invite.ts';
import { DynamoAccountStore, DynamoLedger } from '../../functions/adapters/aws/dynamo.ts';
import { queueDepth } from '../../functions/adapters/aws/queue-depth.ts';
import { S3ObjectStore } from '../../functions/adapters/aws/s3.ts';
import { SqsWorkQueue, SsmTokenStore } from '../../functions/adapters/aws/sqs-ssm.ts';
import { type Clock, systemClock } from '../../functions/core/clock.ts';
import type { FeedName } from '../../functions/core/keys.ts';
import type { FetchMessage, LedgerCounts, LedgerItem } from '../../functions/core/ports.ts';
import type { SyncConfig } from '../../functions/core/sync/config.ts';
import type { CrashPoint } from '../../functions/core/sync/fetcher.ts';
import type { RunSummary } from '../../functions/core/sync/scheduler.ts';
import { createAuthorizeHandler } from '../../functions/shared/app/authorize.ts';
import { createCallbackHandler } from '../../functions/shared/app/callback.ts';
import { createDeauthorizeHandler } from '../../functions/shared/app/deauthorize.ts';
import {
  type BatchResponse,
  createFetcherHandler,
  type SqsEvent,
} from '../../functions/shared/app/fetcher.ts';
import { createSchedulerHandler } from '../../functions/shared/app/scheduler.ts';
import { parseEnv } from '../../functions/shared/env.ts';
import type { HttpResult } from '../../functions/shared/http.ts';
import { makeLogger, makeMetrics, type Platform } from '../../functions/shared/platform.ts';
import { type Simulator, startSimulator } from '../../simulator/server.ts';
import {
  functionEnv,
  type HandlerName,
  type MotoClients,
  motoClients,
  type Provisioned,
  provision,
  synthTemplate,
  type TemplateFacts,
  templateFacts,
} from './aws-env.ts';
import { type Moto, startMoto } from './moto.ts';

const FEED: FeedName = 'fitnessActivities';
const REDIRECT_URI = 'https://rk-sync.test/callback';
const CTX = {
  functionName: 'e2e',
  awsRequestId: 'e2e',
  getRemainingTimeInMillis: () => 30_000,
};
const SCHEDULED_EVENT = {
  version: '0',
  source: 'aws.events',
  'detail-type': 'Scheduled Event',
  detail: {},
};

export interface HarnessOptions {
  activities: number;
  /** Simulator and budget: calls per window (window in whole seconds, as the stack takes it). */
  rateLimitCalls?: number;
  rateLimitWindowSeconds?: number;
  /** Template visibility timeout ÷ this (moto honours real seconds). */
  timeScale?: number;
  /** Progress lines (the script prints them; the test ignores them). */
  progress?: (line: string) => void;
  /** Forward captured Powertools output to the real console as well. */
  echoLogs?: boolean;
  /** Simulated Runkeeper users (default 1). */
  users?: number;
  /** Each handler gets its own SDK clients, so `actionsBy` tells which function called what. */
  isolateClients?: boolean;
}

export interface DrainStats {
  delivered: number;
  failures: number;
  lost: number;
  ms: number;
}

type Fetcher = (e: SqsEvent, c: typeof CTX) => Promise<BatchResponse>;
type Scheduler = (e: unknown, c: typeof CTX) => Promise<{ runs: RunSummary[] }>;

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug'] as const;

export class DeployedHarness {
  readonly opts: Required<Omit<HarnessOptions, 'progress'>> & Pick<HarnessOptions, 'progress'>;
  readonly logs: string[] = [];
  moto!: Moto;
  sim!: Simulator;
  c!: MotoClients;
  facts!: TemplateFacts;
  /** The synthesised template the resources were created from. */
  template!: Record<string, unknown>;
  res!: Provisioned;
  platform!: Platform;
  envs!: Record<
    'authorize' | 'callback' | 'deauthorize' | 'scheduler' | 'fetcher',
    Record<string, string>
  >;
  ledger!: DynamoLedger;
  authorize!: (e: unknown, c: typeof CTX) => Promise<HttpResult>;
  callback!: (e: unknown, c: typeof CTX) => Promise<HttpResult>;
  deauthorize!: (e: unknown, c: typeof CTX) => Promise<HttpResult>;
  scheduler!: Scheduler;
  fetcher!: Fetcher;
  userId = '';
  token = '';
  #offsetMs = 0;
  /**
   * Real time plus jumps (advance), shared by the handlers and the simulator, so a lifecycle
   * test can let minutes pass between deploys for the whole world at once.
   */
  readonly clock: Clock = {
    now: () => Date.now() + this.#offsetMs,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  };
  /** The CDK context the stack was synthesised with (a redeploy adds to it). */
  context: Record<string, unknown> = {};
  /** Values that must never appear in logs (INV-SECRET): filled as they become known. */
  readonly secrets: string[] = [];
  readonly timings: Record<string, number> = {};
  #pendingInvokes: Promise<unknown>[] = [];
  /** With `isolateClients`: each function's own clients (their counters record every call). */
  readonly clientsOf: Partial<Record<HandlerName, MotoClients>> = {};
  #restoreConsole: (() => void) | undefined;

  constructor(o: HarnessOptions) {
    this.opts = {
      rateLimitCalls: 60,
      rateLimitWindowSeconds: 2,
      timeScale: 90,
      echoLogs: false,
      users: 1,
      isolateClients: false,
      ...o,
    };
  }

  /** Lets `ms` pass at once for the handlers and the simulator. */
  advance(ms: number): void {
    this.#offsetMs += ms;
  }

  say(line: string): void {
    this.opts.progress?.(line);
  }

  #captureConsole(): void {
    const saved = CONSOLE_METHODS.map((m) => [m, console[m]] as const);
    for (const m of CONSOLE_METHODS) {
      const orig = console[m];
      console[m] = (...args: unknown[]) => {
        this.logs.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
        if (this.opts.echoLogs) orig.apply(console, args);
      };
    }
    this.#restoreConsole = () => {
      for (const [m, f] of saved) console[m] = f;
    };
  }

  async start(): Promise<void> {
    const t0 = Date.now();
    // Powertools writes through the global console in dev mode, where the capture sees it.
    process.env.POWERTOOLS_DEV = 'true';
    this.#captureConsole();
    const { rateLimitCalls: calls, rateLimitWindowSeconds: windowS } = this.opts;
    const [moto, sim] = await Promise.all([
      startMoto(),
      startSimulator({
        activities: this.opts.activities,
        users: this.opts.users,
        autoApprove: true,
        rateLimit: { calls, windowMs: windowS * 1000 },
        seed: 7,
        clock: this.clock,
      }),
    ]);
    this.moto = moto;
    this.sim = sim;
    this.secrets.push(sim.clientSecret);
    this.say(`moto on ${moto.endpoint}, simulator on ${sim.apiBaseUrl}`);
    this.context = {
      stackName: 'RkSyncE2E',
      clientId: sim.clientId,
      apiBaseUrl: sim.apiBaseUrl,
      authBaseUrl: sim.authBaseUrl,
      rateLimitCalls: calls,
      rateLimitWindowSeconds: windowS,
      scheduleMinutes: 1,
      onRevoke: 'delete',
    };
    const tpl = synthTemplate(this.context);
    this.template = tpl;
    this.facts = templateFacts(tpl);
    this.c = motoClients(moto.endpoint);
    const secretName = this.facts.env.callback?.CLIENT_SECRET_PARAM;
    if (typeof secretName !== 'string') throw new Error('callback has no CLIENT_SECRET_PARAM');
    this.res = await provision(moto.endpoint, this.c, this.facts, {
      prefix: 'e2e',
      timeScale: this.opts.timeScale,
      clientSecret: { name: secretName, value: sim.clientSecret },
    });
    this.wire();
    this.timings.startMs = Date.now() - t0;
    this.say(
      `resources from the template: table ${this.res.tableName}, visibility ${this.res.visibilityTimeout}s, maxReceiveCount ${this.res.maxReceiveCount}`,
    );
  }

  /**
   * (Re)creates every handler from `facts`/`res`: the deployed code as of now. Called by
   * start(), and again by a redeploy or code upgrade (test/helpers/lifecycle.ts).
   */
  wire(): void {
    const sim = this.sim;
    const over = { REDIRECT_URI };
    this.envs = {
      authorize: functionEnv(this.facts, this.res, 'authorize', over),
      callback: functionEnv(this.facts, this.res, 'callback', over),
      deauthorize: functionEnv(this.facts, this.res, 'deauthorize'),
      scheduler: functionEnv(this.facts, this.res, 'scheduler'),
      fetcher: functionEnv(this.facts, this.res, 'fetcher'),
    };
    this.platform = {
      clients: this.c,
      clock: this.clock,
      logger: makeLogger(),
      metrics: makeMetrics(),
      // The simulator serves photos over http on loopback; production allows https only.
      media: { extraOrigins: [new URL(sim.apiBaseUrl).origin] },
      // Lambda's async (Event) invoke: start the scheduler, do not wait for it.
      invokeScheduler: async (userId) => {
        this.#pendingInvokes.push(this.scheduler({ userId }, CTX));
      },
    };
    this.authorize = createAuthorizeHandler(
      parseEnv('authorize', this.envs.authorize),
      this.platformOf('authorize'),
    ) as never;
    this.callback = createCallbackHandler(
      parseEnv('callback', this.envs.callback),
      this.platformOf('callback'),
    ) as never;
    this.deauthorize = createDeauthorizeHandler(
      parseEnv('deauthorize', this.envs.deauthorize),
      this.platformOf('deauthorize'),
    ) as never;
    this.scheduler = this.schedulerWith();
    this.fetcher = this.fetcherWith();
    this.ledger = new DynamoLedger(this.c.ddb, this.res.tableName);
  }

  /** The platform one handler runs with: shared clients, or its own (`isolateClients`). */
  platformOf(name: HandlerName): Platform {
    if (!this.opts.isolateClients) return this.platform;
    this.clientsOf[name] ??= motoClients(this.moto.endpoint);
    return { ...this.platform, clients: this.clientsOf[name] };
  }

  /** `Service:Command` pairs each function performed (with `isolateClients`). */
  actionsBy(): Partial<Record<HandlerName, string[]>> {
    const out: Partial<Record<HandlerName, string[]>> = {};
    for (const [name, c] of Object.entries(this.clientsOf) as [HandlerName, MotoClients][]) {
      out[name] = [...c.counter.counts.keys()].filter((k) => k.includes(':')).sort();
    }
    return out;
  }

  schedulerWith(syncOverrides?: Partial<SyncConfig>): Scheduler {
    return createSchedulerHandler(parseEnv('scheduler', this.envs.scheduler), {
      ...this.platformOf('scheduler'),
      syncOverrides,
    }) as never;
  }

  fetcherWith(crash?: (p: CrashPoint) => void): Fetcher {
    return createFetcherHandler(parseEnv('fetcher', this.envs.fetcher), {
      ...this.platformOf('fetcher'),
      crash,
    }) as never;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.#pendingInvokes);
    await Promise.allSettled([this.sim?.close(), this.moto?.stop()]);
    this.#restoreConsole?.();
  }

  // ---------------------------------------------------------------- flows

  /** The owner's `rk-sync invite` (the CLI's own code, on moto): the link's invite value. */
  async invite(): Promise<string> {
    const r = await mintStackInvite(
      { table: this.res.tableName, authorizeUrl: 'https://rk-sync.test/authorize', hours: 1 },
      Date.now(),
      this.c.ddb,
    );
    const invite = new URL(r.url).searchParams.get('invite') ?? '';
    this.secrets.push(invite);
    return invite;
  }

  /** Browser flow: GET /authorize?invite= → simulator auto-approves (as `simUser`, default the
   *  first user) → GET /callback with the cookie → the result page. */
  async browserLink(
    invite: string | undefined,
    simUser?: string,
  ): Promise<{ status: number; location: string | undefined; authorizeStatus: number }> {
    const a = await this.authorize(
      {
        rawQueryString: invite === undefined ? '' : `invite=${invite}`,
        requestContext: { domainName: 'rk-sync.test' },
      },
      CTX,
    );
    if (a.statusCode !== 302 || !a.headers.location) {
      return { status: a.statusCode, location: undefined, authorizeStatus: a.statusCode };
    }
    const state = new URL(a.headers.location).searchParams.get('state') ?? '';
    const cookie = /^rk_link=([^;]+);/.exec(a.cookies?.[0] ?? '')?.[1] ?? '';
    const consentUrl = new URL(a.headers.location);
    if (simUser !== undefined) consentUrl.searchParams.set('sim_user', simUser);
    const consent = await fetch(consentUrl, { redirect: 'manual' });
    await consent.body?.cancel();
    const back = new URL(consent.headers.get('location') ?? '');
    if (`${back.origin}${back.pathname}` !== REDIRECT_URI) throw new Error('unexpected redirect');
    const code = back.searchParams.get('code') ?? '';
    this.secrets.push(state, cookie, code);
    const seeOther = await this.callback(
      { rawQueryString: back.search.slice(1), cookies: [`rk_link=${cookie}`] },
      CTX,
    );
    // B7: the browser follows the 303; the page it shows carries only the result word.
    const location = seeOther.headers.location;
    const cb =
      seeOther.statusCode === 303 && location
        ? await this.callback(
            { rawQueryString: new URL(location, REDIRECT_URI).search.slice(1) },
            CTX,
          )
        : seeOther;
    return { status: cb.statusCode, location, authorizeStatus: a.statusCode };
  }

  /** The owner links: `rk-sync invite`, then the browser flow; waits for the first run. */
  async link(): Promise<{
    userId: string;
    status: number;
    location: string | undefined;
    firstRun: RunSummary | undefined;
  }> {
    const t0 = Date.now();
    const { status, location } = await this.browserLink(await this.invite());
    const runs = (await Promise.all(this.#pendingInvokes.splice(0))) as { runs: RunSummary[] }[];
    this.userId = this.sim.users[0]!.userId;
    const token = await this.c.ssm.send(
      new GetParameterCommand({
        Name: `${this.envs.callback.TOKEN_PARAM_PREFIX}${this.userId}`,
        WithDecryption: true,
      }),
    );
    this.token = token.Parameter?.Value ?? '';
    this.secrets.push(this.token);
    this.timings.linkMs = Date.now() - t0;
    return { userId: this.userId, status, location, firstRun: runs[0]?.runs[0] };
  }

  async runScheduler(h: Scheduler = this.scheduler): Promise<RunSummary[]> {
    return (await h(SCHEDULED_EVENT, CTX)).runs;
  }

  queueDepth(url = this.res.queueUrl): Promise<number> {
    return queueDepth(this.c.sqs, url);
  }

  async #receive(waitSeconds: number) {
    const r = await this.c.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.res.queueUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    return r.Messages?.[0];
  }

  /**
   * The event source mapping's part for one received message: invoke the fetcher with it and
   * delete it unless reported as a batch item failure. Returns false on a failure.
   */
  async deliver(fetcher: Fetcher, m: Message): Promise<boolean> {
    const res = await fetcher(
      {
        Records: [
          {
            messageId: m.MessageId!,
            receiptHandle: m.ReceiptHandle!,
            body: m.Body ?? '',
            attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount },
            eventSource: 'aws:sqs',
          },
        ],
      },
      CTX,
    );
    if (res.batchItemFailures.some((f) => f.itemIdentifier === m.MessageId)) return false;
    await this.c.sqs.send(
      new DeleteMessageCommand({ QueueUrl: this.res.queueUrl, ReceiptHandle: m.ReceiptHandle }),
    );
    return true;
  }

  /**
   * The event source mapping: receive one message at a time, invoke the fetcher, delete it
   * unless reported as a batch item failure. Returns when the queue is empty (nothing
   * visible, in flight or delayed) or the deadline passes.
   */
  async drain(
    fetcher: Fetcher = this.fetcher,
    timeoutMs = 60_000,
    lose?: (m: FetchMessage) => boolean,
  ): Promise<DrainStats> {
    const t0 = Date.now();
    const s: DrainStats = { delivered: 0, failures: 0, lost: 0, ms: 0 };
    while (Date.now() - t0 < timeoutMs) {
      let m = await this.#receive(0);
      if (!m) {
        // Nothing visible: done when nothing is in flight or delayed either.
        if ((await this.queueDepth()) === 0) break;
        m = await this.#receive(1);
        if (!m) continue;
      }
      if (lose?.(JSON.parse(m.Body ?? '{}') as FetchMessage)) {
        // The message vanishes before the fetcher ever sees it.
        await this.c.sqs.send(
          new DeleteMessageCommand({ QueueUrl: this.res.queueUrl, ReceiptHandle: m.ReceiptHandle }),
        );
        s.lost++;
        continue;
      }
      s.delivered++;
      if (!(await this.deliver(fetcher, m))) s.failures++;
    }
    s.ms = Date.now() - t0;
    return s;
  }

  /** Scheduler runs + queue drains until the ledger holds `expected` SYNCED items. */
  async syncUntil(expected: number, maxRuns = 20, timeoutMs = 120_000) {
    const t0 = Date.now();
    const runs: RunSummary[] = [];
    for (let i = 0; i < maxRuns && Date.now() - t0 < timeoutMs; i++) {
      const counts = await this.ledger.counts(this.userId);
      if (counts.SYNCED >= expected && (await this.queueDepth()) === 0) break;
      if (i > 0 || (await this.queueDepth()) === 0) runs.push(...(await this.runScheduler()));
      const d = await this.drain(this.fetcher, timeoutMs - (Date.now() - t0));
      const c = await this.ledger.counts(this.userId);
      this.say(
        `  run ${runs.length}: enqueued ${runs.at(-1)?.enqueued ?? 0}, delivered ${d.delivered} in ${d.ms} ms; ledger SYNCED ${c.SYNCED}/${expected}`,
      );
    }
    return { runs, counts: await this.ledger.counts(this.userId), ms: Date.now() - t0 };
  }

  // ---------------------------------------------------------------- observations

  /** Activities the simulator reports as still being recorded (stored, kept PENDING). */
  isLive(id: string): boolean {
    const d = this.sim.document(this.userId, FEED, id) as { is_live?: unknown } | undefined;
    return d?.is_live === true;
  }

  finishedIds(): string[] {
    return this.sim.activityIds(this.userId).filter((id) => !this.isLive(id));
  }

  /** A new activity that has finished recording (a live one would stay PENDING by design). */
  addFinishedActivity(): string {
    for (let i = 0; i < 10; i++) {
      const id = this.sim.mutate.addActivity(this.userId);
      if (!this.isLive(id)) return id;
    }
    throw new Error('the simulator keeps adding live activities');
  }

  rawKey(id: string): string {
    return `raw/${this.userId}/${FEED}/${id}.json`;
  }

  async versions(key: string): Promise<string[]> {
    const r = await this.c.s3.send(
      new ListObjectVersionsCommand({ Bucket: this.res.bucketName, Prefix: key }),
    );
    return (r.Versions ?? []).filter((v) => v.Key === key).map((v) => v.VersionId ?? '');
  }

  /** sha256 metadata of every version of a key, oldest first. */
  async versionHashes(key: string): Promise<string[]> {
    const r = await this.c.s3.send(
      new ListObjectVersionsCommand({ Bucket: this.res.bucketName, Prefix: key }),
    );
    const versions = (r.Versions ?? [])
      .filter((v) => v.Key === key)
      .sort((a, b) => (a.LastModified?.getTime() ?? 0) - (b.LastModified?.getTime() ?? 0));
    const out: string[] = [];
    for (const v of versions) {
      const head = await this.c.s3.send(
        new HeadObjectCommand({ Bucket: this.res.bucketName, Key: key, VersionId: v.VersionId }),
      );
      out.push(head.Metadata?.sha256 ?? '');
    }
    return out;
  }

  /** Every stored raw activity key with its version count. */
  async storedActivities(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const r = await this.c.s3.send(
        new ListObjectVersionsCommand({
          Bucket: this.res.bucketName,
          Prefix: `raw/${this.userId}/${FEED}/`,
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
        }),
      );
      for (const v of r.Versions ?? []) {
        const id = /\/(\d+)\.json$/.exec(v.Key ?? '')?.[1];
        if (id) out.set(id, (out.get(id) ?? 0) + 1);
      }
      if (!r.IsTruncated) break;
      keyMarker = r.NextKeyMarker;
      versionMarker = r.NextVersionIdMarker;
    }
    return out;
  }

  item(id: string): Promise<LedgerItem | undefined> {
    return this.ledger.get(this.userId, FEED, id);
  }

  counts(): Promise<LedgerCounts> {
    return this.ledger.counts(this.userId);
  }

  apiCallsSince(n: number): number {
    return this.sim.callLog.slice(n).filter((r) => r.userId === this.userId).length;
  }

  // ---------------------------------------------------------------- scenarios

  async backfill() {
    const t0 = Date.now();
    const recordingAtStart = new Set(
      this.sim.activityIds(this.userId).filter((id) => this.isLive(id)),
    );
    const r = await this.syncUntil(this.finishedIds().length);
    this.timings.backfillMs = Date.now() - t0;
    // A recording ends after its own elapsed time (the simulator's clock runs ×90 here) and is
    // then fetched again: what stays PENDING is what was stored while still being recorded.
    const stillPending = (await this.ledger.list(this.userId, 'PENDING')).filter(
      (it) => /is_live/.test(it.lastError ?? '') && recordingAtStart.has(it.id),
    ).length;
    const expected = this.sim.activityIds(this.userId).length - stillPending;
    return { expected, live: stillPending, ...r };
  }

  /** One scheduled run with nothing new upstream: API calls, enqueued, AWS requests. */
  async idleRun() {
    const calls = this.sim.callLog.length;
    const before = this.c.counter.snapshot();
    const t0 = Date.now();
    const runs = await this.runScheduler();
    const ms = Date.now() - t0;
    this.timings.idleRunMs = ms;
    const requests = this.c.counter.since(before);
    return {
      apiCalls: this.apiCallsSince(calls),
      paths: this.sim.callLog.slice(calls).map((r) => r.path.split('?')[0]),
      enqueued: runs.reduce((n, r) => n + r.enqueued, 0),
      queueDepth: await this.queueDepth(),
      requests,
      ms,
    };
  }

  /** Photos: every image (and thumbnail) of every stored activity under media/{userId}/…/{id}/. */
  async photos() {
    const store = new S3ObjectStore(this.c.s3, this.res.bucketName);
    const media = new Map<string, number>();
    for await (const k of store.list(`media/${this.userId}/${FEED}/`)) {
      const id = /\/(\d+)\/[^/]+$/.exec(k)?.[1];
      if (id) media.set(id, (media.get(id) ?? 0) + 1);
    }
    const expected = new Map<string, number>();
    for await (const k of store.list(`raw/${this.userId}/${FEED}/`)) {
      const id = /\/(\d+)\.json$/.exec(k)?.[1];
      const bytes = id ? await store.get(k) : undefined;
      // A live activity is stored raw only; photos and derived files come with its final fetch.
      if (!id || !bytes || this.isLive(id)) continue;
      const images = (JSON.parse(new TextDecoder().decode(bytes)) as { images?: unknown[] }).images;
      const n = (images ?? []).reduce<number>((sum, img) => {
        const i = img as { uri?: unknown; thumbnail_uri?: unknown };
        return (
          sum + (typeof i.uri === 'string' ? 1 : 0) + (typeof i.thumbnail_uri === 'string' ? 1 : 0)
        );
      }, 0);
      if (n > 0) expected.set(id, n);
    }
    const missing = [...expected].filter(([id, n]) => (media.get(id) ?? 0) !== n).map(([id]) => id);
    return {
      activitiesWithPhotos: expected.size,
      objects: [...media.values()].reduce((a, b) => a + b, 0),
      missing,
      strays: [...media.keys()].filter((id) => !expected.has(id)),
    };
  }

  /** A scheduled run whose index is due now: the combined index and manifest, as stored. */
  async rebuildIndex() {
    const due = this.schedulerWith({ indexRebuildMs: 0 });
    const before = this.c.counter.snapshot();
    const t0 = Date.now();
    const runs = await this.runScheduler(due);
    const ms = Date.now() - t0;
    const requests = this.c.counter.since(before);
    const store = new S3ObjectStore(this.c.s3, this.res.bucketName);
    const text = async (k: string) =>
      new TextDecoder().decode((await store.get(k)) ?? new Uint8Array());
    const csv = (await text(`index/${this.userId}/activities.csv`)).split('\r\n').filter(Boolean);
    const ndjson = (await text(`index/${this.userId}/activities.ndjson`))
      .split('\n')
      .filter(Boolean);
    const manifest = JSON.parse((await text(`index/${this.userId}/manifest.json`)) || '{}') as {
      files?: { key: string; sha256: string; size: number }[];
    };
    // The next due run has nothing new: no rebuild, no S3 request.
    const again = this.c.counter.snapshot();
    await this.runScheduler(due);
    return {
      runs,
      ms,
      requests,
      header: csv[0],
      csvIds: csv.slice(1).map((l) => l.split(',')[0]),
      ndjsonRows: ndjson.length,
      manifest: manifest.files ?? [],
      nextRunS3: this.c.counter.since(again).S3 ?? 0,
    };
  }

  async newActivity() {
    const id = this.addFinishedActivity();
    const runs = await this.runScheduler();
    const drained = await this.drain();
    const derived: string[] = [];
    for await (const k of new S3ObjectStore(this.c.s3, this.res.bucketName).list('')) {
      if (k.includes(`/${id}.`) && !k.startsWith('raw/')) derived.push(k);
    }
    return {
      id,
      runs,
      drained,
      item: await this.item(id),
      versions: await this.versions(this.rawKey(id)),
      derived: derived.sort(),
    };
  }

  async editActivity(id: string) {
    const before = await this.versions(this.rawKey(id));
    this.sim.mutate.editActivity(this.userId, id);
    const runs = await this.runScheduler();
    const drained = await this.drain();
    return {
      id,
      runs,
      drained,
      before,
      after: await this.versions(this.rawKey(id)),
      item: await this.item(id),
    };
  }

  async deleteActivity(id: string) {
    this.sim.mutate.deleteActivity(this.userId, id);
    const runs = await this.runScheduler();
    const drained = await this.drain();
    return {
      id,
      runs,
      drained,
      item: await this.item(id),
      versions: await this.versions(this.rawKey(id)),
    };
  }

  /** The same message delivered twice (SQS is at-least-once). */
  async duplicateDelivery() {
    const id = this.addFinishedActivity();
    await this.runScheduler();
    const item = await this.item(id);
    const msg: FetchMessage = { userId: this.userId, feed: FEED, id, rev: item?.wantRev ?? 1 };
    await new SqsWorkQueue(this.c.sqs, this.res.queueUrl).send([{ body: msg, delaySeconds: 0 }]);
    const calls = this.sim.callLog.length;
    const drained = await this.drain();
    const fetches = this.sim.callLog.slice(calls).filter((r) => r.path === `/${FEED}/${id}`).length;
    return {
      id,
      drained,
      fetches,
      item: await this.item(id),
      versions: await this.versions(this.rawKey(id)),
    };
  }

  /** The fetcher dies after the S3 write, before the ledger write; SQS redelivers. */
  async crashAfterPut() {
    const id = this.addFinishedActivity();
    let crashed = 0;
    const crashing = this.fetcherWith((p) => {
      if (p === 'after-put' && crashed === 0) {
        crashed++;
        throw new Error('simulated crash between the S3 write and the ledger write');
      }
    });
    await this.runScheduler();
    const drained = await this.drain(crashing);
    return {
      id,
      crashed,
      drained,
      item: await this.item(id),
      versions: await this.versions(this.rawKey(id)),
    };
  }

  /** A message vanishes; the next run after the lease re-enqueues the item. */
  async lostMessage(leaseMs = 1_500) {
    const id = this.addFinishedActivity();
    await this.runScheduler();
    const first = await this.drain(this.fetcher, 30_000, (m) => m.id === id);
    const stuck = await this.item(id);
    await new Promise((r) => setTimeout(r, leaseMs + 100));
    const runs = await this.runScheduler(this.schedulerWith({ leaseMs }));
    const drained = await this.drain();
    return {
      id,
      removed: first.lost,
      stuckStatus: stuck?.status,
      runs,
      drained,
      item: await this.item(id),
      versions: await this.versions(this.rawKey(id)),
    };
  }

  /** INV-LOSS, INV-DUP, INV-ORDER, INV-BUDGET, INV-DLQ, INV-SECRET. */
  async invariants(opts: { deleted: string[]; edited: string[] }) {
    const live = this.sim.activityIds(this.userId);
    const stored = await this.storedActivities();
    const items = await this.ledger.list(this.userId);
    const byId = new Map(items.map((i) => [i.id, i]));
    // Still-recording activities are stored but stay PENDING (fetched again later) by design.
    const recording = live.filter((id) => this.isLive(id));
    const notSynced = live.filter(
      (id) =>
        byId.get(id)?.status !== 'SYNCED' &&
        !(recording.includes(id) && byId.get(id)?.status === 'PENDING'),
    );
    const missing = live.filter((id) => !stored.has(id));
    // Exactly once: a new S3 version only when the bytes changed upstream (an edit, or the
    // document's previous/next links moving when an activity is added next to it). Two
    // consecutive versions with the same sha256 would be a duplicate write.
    const duplicateWrites: string[] = [];
    for (const [id, n] of stored) {
      if (n < 2) continue;
      const hashes = await this.versionHashes(this.rawKey(id));
      if (hashes.some((h, i) => i > 0 && h === hashes[i - 1])) duplicateWrites.push(id);
    }
    const editedNotVersioned = opts.edited.filter((id) => (stored.get(id) ?? 0) < 2);
    const syncedWithoutObject = items.filter((i) => i.status === 'SYNCED' && !stored.has(i.id));
    const logText = this.logs.join('\n');
    const leaked = [...this.secrets, 'Bearer '].filter((s) => s.length > 0 && logText.includes(s));
    return {
      activities: live.length,
      stillRecording: recording.length,
      storedKeys: stored.size,
      expectedKeys: live.length + opts.deleted.length,
      notSynced,
      missing,
      duplicateWrites,
      editedNotVersioned,
      syncedWithoutObject: syncedWithoutObject.map((i) => i.id),
      maxCallsInWindow: this.sim.maxCallsInWindow(this.userId),
      limit: this.opts.rateLimitCalls,
      http429: this.sim.http429(),
      dlqDepth: await this.queueDepth(this.res.dlqUrl),
      leakedSecrets: leaked.length,
      logLines: this.logs.length,
    };
  }

  /** X7: Runkeeper's de-authorisation callback with onRevoke=delete. */
  async deauthorizeAndDelete() {
    const r = await this.deauthorize(
      {
        body: JSON.stringify({ access_token: this.token }),
        headers: { 'content-type': 'application/json' },
      },
      CTX,
    );
    const calls = this.sim.callLog.length;
    const runs = await this.runScheduler();
    const stored = await this.storedActivities();
    return {
      status: r.statusCode,
      accountStatus: (await new DynamoAccountStore(this.c.ddb, this.res.tableName).get(this.userId))
        ?.status,
      tokenStored:
        (await new SsmTokenStore(this.c.ssm, this.envs.deauthorize.TOKEN_PARAM_PREFIX!).get(
          this.userId,
        )) !== undefined,
      ledgerItems: (await this.ledger.list(this.userId)).length,
      objectVersions: [...stored.values()].reduce((a, b) => a + b, 0),
      runsAfter: runs.length,
      apiCallsAfter: this.apiCallsSince(calls),
    };
  }
}
