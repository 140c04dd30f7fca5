/**
 * The Health Graph client. Every request:
 *  1. takes one call from the shared CallBudget (no budget → BudgetExhaustedError, or a wait
 *     in local mode), retries included;
 *  2. goes only to the configured API host, for a relative path of a known shape (H4);
 *  3. maps the answer onto the error taxonomy in ../errors.ts.
 * No AWS, no Lambda, no process.env: configuration and ports are injected.
 */
import type { CallBudget } from '../budget.ts';
import type { Clock } from '../clock.ts';
import {
  BudgetExhaustedError,
  ForbiddenError,
  HealthGraphError,
  InvalidPayloadError,
  NotFoundError,
  RateLimitedError,
  RevokedError,
  TransientError,
  UnauthorizedError,
} from '../errors.ts';
import {
  checkPageUri,
  checkResourcePath,
  commentsUri,
  FEEDS,
  type FeedName,
  type ItemRef,
  itemUri,
  parseItemUri,
} from '../keys.ts';
import { type Log, silentLog } from '../ports.ts';
import { type FetchFn, type HttpResponse, httpRequest } from './http.ts';
import { rateLimitWaitUntil } from './rate-limit.ts';
import {
  ChangeLogSchema,
  FeedItemSchema,
  FeedPageSchema,
  FitnessActivitySchema,
  ItemDocSchema,
  UserSchema,
} from './schemas.ts';

export interface ApiConfig {
  apiBaseUrl: string;
  /** Per-call timeout (default 15 s; keep it well under the Lambda timeout). */
  timeoutMs?: number;
  /** Response size cap (default 16 MiB). */
  maxBodyBytes?: number;
  fetch?: FetchFn;
}

export interface RetryPolicy {
  /** Attempts per logical call (1 = no retry; Lambdas use 1 and let the queue retry). */
  attempts: number;
  baseMs: number;
  capMs: number;
  /** Wait for the budget (local mode) instead of throwing BudgetExhaustedError. */
  waitForBudget: boolean;
  random?: () => number;
}

export const LAMBDA_RETRY: RetryPolicy = { attempts: 1, baseMs: 0, capMs: 0, waitForBudget: false };
export const LOCAL_RETRY: RetryPolicy = {
  attempts: 4,
  baseMs: 1_000,
  capMs: 60_000,
  waitForBudget: true,
};

export interface ClientDeps {
  token: string;
  budget: CallBudget;
  budgetKey: string;
  clock: Clock;
  retry?: RetryPolicy;
  log?: Log;
  signal?: AbortSignal;
  /** Called after every HTTP exchange (metrics, progress). */
  onCall?: (info: { path: string; status: number }) => void;
}

export interface UserResources {
  userId: string;
  /** Validated relative paths keyed by the /user field name. */
  resources: Record<string, string>;
  raw: string;
}

export interface FeedPage {
  size: number | undefined;
  items: {
    uri: string;
    ref: ItemRef | undefined;
    raw: unknown;
    summaryHashSource: string;
    startTime?: string | undefined;
  }[];
  /** Items whose uri failed validation (never fetched; reported). */
  rejected: number;
  next: string | undefined;
}

export interface ChangeSet {
  modified: { ref: ItemRef; raw: unknown; startTime?: string | undefined }[];
  deleted: ItemRef[];
  rejected: number;
}

export interface FetchedDoc {
  /** The JSON text exactly as received (decoded). */
  text: string;
  json: Record<string, unknown>;
}

const MEDIA = 'application/vnd.com.runkeeper.';

const FEED_MEDIA: Record<FeedName, [feed: string, item: string]> = {
  fitnessActivities: ['FitnessActivityFeed', 'FitnessActivity'],
  strengthTrainingActivities: ['StrengthTrainingActivityFeed', 'StrengthTrainingActivity'],
  backgroundActivities: ['BackgroundActivitySetFeed', 'BackgroundActivitySet'],
  sleep: ['SleepSetFeed', 'SleepSet'],
  nutrition: ['NutritionSetFeed', 'NutritionSet'],
  weight: ['WeightSetFeed', 'WeightSet'],
  generalMeasurements: ['GeneralMeasurementSetFeed', 'GeneralMeasurementSet'],
  diabetes: ['DiabetesMeasurementSetFeed', 'DiabetesMeasurementSet'],
};

/** Accept a vendor type, and plain JSON, since servers and proxies vary. */
function accept(type: string): string {
  return `${MEDIA}${type}+json, application/json;q=0.5`;
}

function formatUtc(t: number): string {
  return new Date(t).toISOString().slice(0, 19);
}

export class HealthGraphClient {
  readonly #cfg: Required<Omit<ApiConfig, 'fetch'>> & { fetch: FetchFn };
  readonly #d: ClientDeps;
  readonly #retry: RetryPolicy;
  readonly #log: Log;
  /** API calls actually sent (for reporting). */
  calls = 0;

  constructor(cfg: ApiConfig, deps: ClientDeps) {
    this.#cfg = {
      apiBaseUrl: cfg.apiBaseUrl.replace(/\/+$/, ''),
      timeoutMs: cfg.timeoutMs ?? 15_000,
      maxBodyBytes: cfg.maxBodyBytes ?? 16 * 1024 * 1024,
      fetch: cfg.fetch ?? fetch,
    };
    this.#d = deps;
    this.#retry = deps.retry ?? LAMBDA_RETRY;
    this.#log = deps.log ?? silentLog;
  }

  get apiBaseUrl(): string {
    return this.#cfg.apiBaseUrl;
  }

  /** GET /user: the user id and the URIs of every other resource. */
  async getUser(): Promise<UserResources> {
    const res = await this.#get('/user', accept('User'));
    const text = res.text();
    const json = parseJson(text, res.status);
    const parsed = UserSchema.safeParse(json);
    if (!parsed.success) {
      // Under throttling /user has come back without userID (tapiriik#362): retry later.
      throw new TransientError('the /user document lacks a valid userID', res.status);
    }
    const resources: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed.data)) {
      if (k === 'userID' || typeof v !== 'string') continue;
      try {
        resources[k] = checkResourcePath(v, this.#cfg.apiBaseUrl);
      } catch {
        this.#log.warn('ignoring a /user resource with an unexpected URI', { field: k });
      }
    }
    return { userId: parsed.data.userID, resources, raw: text };
  }

  /** First page URI of a feed with the given page size and filters (yyyy-MM-dd dates). */
  firstPage(
    feedPath: string,
    q: {
      pageSize?: number;
      noEarlierThan?: string;
      noLaterThan?: string;
      modifiedNoEarlierThan?: string;
      modifiedNoLaterThan?: string;
    } = {},
  ): string {
    const path = checkResourcePath(feedPath);
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return qs ? `${path}?${qs}` : path;
  }

  /** One feed page; `pageUri` is a first-page URI or a `next` link followed verbatim. */
  async listPage(feed: FeedName, feedPath: string, pageUri: string): Promise<FeedPage> {
    const rel = checkPageUri(pageUri, checkResourcePath(feedPath), this.#cfg.apiBaseUrl);
    const res = await this.#get(rel, accept(FEED_MEDIA[feed][0]));
    const text = res.text();
    const parsed = FeedPageSchema.safeParse(parseJson(text, res.status));
    if (!parsed.success)
      throw new InvalidPayloadError('feed page has an unexpected shape', text, res.status);
    const page: FeedPage = { size: parsed.data.size, items: [], rejected: 0, next: undefined };
    for (const raw of parsed.data.items) {
      const item = FeedItemSchema.safeParse(raw);
      if (!item.success) {
        page.rejected++;
        continue;
      }
      let ref: ItemRef | undefined;
      try {
        ref = parseItemUri(item.data.uri, this.#cfg.apiBaseUrl);
        if (ref.feed !== feed) ref = undefined;
      } catch {
        ref = undefined;
      }
      if (!ref) {
        page.rejected++;
        this.#log.warn('feed item with an unsafe or foreign uri was skipped', { feed });
        continue;
      }
      page.items.push({
        uri: item.data.uri,
        ref,
        raw,
        summaryHashSource: JSON.stringify(raw),
        startTime: item.data.start_time ?? item.data.timestamp,
      });
    }
    if (parsed.data.next !== undefined) {
      page.next = checkPageUri(parsed.data.next, feedPath, this.#cfg.apiBaseUrl);
    }
    return page;
  }

  /** Every page of a feed (each page spends one call). */
  async *pages(feed: FeedName, feedPath: string, first: string): AsyncGenerator<FeedPage> {
    let next: string | undefined = first;
    for (let guard = 0; next !== undefined && guard < 100_000; guard++) {
      const page: FeedPage = await this.listPage(feed, feedPath, next);
      yield page;
      next = page.next;
    }
  }

  /** The change log since `since` (epoch ms, sent as UTC yyyy-MM-ddTHH:mm:ss). */
  async getChangeLog(changeLogPath: string, since: number, until?: number): Promise<ChangeSet> {
    const path = checkResourcePath(changeLogPath, this.#cfg.apiBaseUrl);
    const params = new URLSearchParams({ modifiedNoEarlierThan: formatUtc(since) });
    if (until !== undefined) params.set('modifiedNoLaterThan', formatUtc(until));
    const res = await this.#get(`${path}?${params}`, accept('ChangeLog'));
    const text = res.text();
    const parsed = ChangeLogSchema.safeParse(parseJson(text, res.status));
    if (!parsed.success)
      throw new InvalidPayloadError('change log has an unexpected shape', text, res.status);
    const out: ChangeSet = { modified: [], deleted: [], rejected: 0 };
    const groups = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
    for (const group of groups) {
      for (const [field, entryOrList] of Object.entries(group)) {
        const feed = (FEEDS as Record<string, FeedName>)[field];
        if (!feed) continue;
        for (const entry of Array.isArray(entryOrList) ? entryOrList : [entryOrList]) {
          for (const m of entry.modified ?? []) {
            const item = FeedItemSchema.safeParse(m);
            const ref = item.success
              ? safeRef(item.data.uri, feed, this.#cfg.apiBaseUrl)
              : undefined;
            if (!ref || !item.success) {
              out.rejected++;
              continue;
            }
            out.modified.push({
              ref,
              raw: m,
              startTime: item.data.start_time ?? item.data.timestamp,
            });
          }
          for (const d of entry.deleted ?? []) {
            const uri = typeof d === 'string' ? d : (d as { uri?: unknown } | null)?.uri;
            const ref =
              typeof uri === 'string' ? safeRef(uri, feed, this.#cfg.apiBaseUrl) : undefined;
            if (ref) out.deleted.push(ref);
            else out.rejected++;
          }
        }
      }
    }
    return out;
  }

  /** One item document (full, or the summary media type for fitness activities). */
  async getItem(ref: ItemRef, opts: { summary?: boolean } = {}): Promise<FetchedDoc> {
    const uri = itemUri(ref);
    const [, itemType] = FEED_MEDIA[ref.feed];
    const type =
      ref.feed === 'fitnessActivities' && opts.summary ? 'FitnessActivitySummary' : itemType;
    const res = await this.#get(uri, accept(type));
    const text = res.text();
    const json = parseJson(text, res.status);
    const schema = ref.feed === 'fitnessActivities' ? FitnessActivitySchema : ItemDocSchema;
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new InvalidPayloadError(`${ref.feed} document fails validation`, text, res.status);
    }
    let back: ItemRef | undefined;
    try {
      back = parseItemUri(parsed.data.uri, this.#cfg.apiBaseUrl);
    } catch {
      back = undefined;
    }
    if (!back || back.feed !== ref.feed || back.id !== ref.id) {
      throw new InvalidPayloadError(
        'document uri does not match the requested item',
        text,
        res.status,
      );
    }
    return { text, json: json as Record<string, unknown> };
  }

  /** A fitness activity's comment thread. */
  async getComments(activityId: string): Promise<FetchedDoc> {
    const res = await this.#get(commentsUri(activityId), accept('CommentThread'));
    const text = res.text();
    const json = parseJson(text, res.status);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new InvalidPayloadError('comment thread is not an object', text, res.status);
    }
    return { text, json: json as Record<string, unknown> };
  }

  /** A singleton document from /user (profile, settings, records). */
  async getDocument(path: string, mediaType: string): Promise<{ text: string; json: unknown }> {
    const res = await this.#get(checkResourcePath(path, this.#cfg.apiBaseUrl), accept(mediaType));
    const text = res.text();
    return { text, json: parseJson(text, res.status) };
  }

  async #get(path: string, acceptHeader: string): Promise<HttpResponse> {
    const url = `${this.#cfg.apiBaseUrl}${path}`;
    const r = this.#retry;
    const random = r.random ?? Math.random;
    for (let attempt = 1; ; attempt++) {
      await this.#spend();
      try {
        return await this.#once(url, path, acceptHeader);
      } catch (e) {
        const last = attempt >= r.attempts;
        if (e instanceof RateLimitedError && r.waitForBudget && !last) {
          await this.#d.clock.sleep(Math.max(0, e.waitUntil - this.#d.clock.now()), this.#d.signal);
          continue;
        }
        if (e instanceof TransientError && !last) {
          // Capped exponential backoff with full jitter (AWS Architecture Blog).
          const ceiling = Math.min(r.capMs, r.baseMs * 2 ** (attempt - 1));
          const wait = Math.floor(random() * ceiling);
          // Said as it happens, with the address tried: a wrong address is not silent.
          this.#log.warn(
            `${e.message}; retrying in ${(wait / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${r.attempts})`,
            { path: redactPath(path) },
          );
          await this.#d.clock.sleep(wait, this.#d.signal);
          continue;
        }
        throw e;
      }
    }
  }

  async #spend(): Promise<void> {
    const { budget, budgetKey, clock, signal } = this.#d;
    for (let guard = 0; guard < 10_000; guard++) {
      const g = await budget.tryAcquire(budgetKey, clock.now());
      if (g.granted) return;
      if (!this.#retry.waitForBudget) throw new BudgetExhaustedError(g.waitUntil);
      await clock.sleep(Math.max(1, g.waitUntil - clock.now()), signal);
    }
    throw new BudgetExhaustedError(this.#d.clock.now());
  }

  async #once(url: string, path: string, acceptHeader: string): Promise<HttpResponse> {
    const res = await httpRequest(url, {
      headers: {
        Authorization: `Bearer ${this.#d.token}`,
        Accept: acceptHeader,
        'Accept-Charset': 'utf-8',
        'User-Agent': 'rk-sync (+personal backup)',
      },
      timeoutMs: this.#cfg.timeoutMs,
      maxBytes: this.#cfg.maxBodyBytes,
      fetch: this.#cfg.fetch,
      signal: this.#d.signal,
    });
    this.calls++;
    this.#d.onCall?.({ path: redactPath(path), status: res.status });
    await this.#raiseForStatus(res);
    return res;
  }

  async #raiseForStatus(res: HttpResponse): Promise<void> {
    const s = res.status;
    if (s >= 200 && s < 300) {
      if (/text\/html/i.test(res.contentType) || /^\s*</.test(res.text().slice(0, 64))) {
        throw new TransientError('the API answered with an HTML page (maintenance?)', s);
      }
      return;
    }
    const text = safeText(res);
    const reason = reasonOf(text);
    if (s === 429) {
      const now = this.#d.clock.now();
      const { waitUntil, limit } = rateLimitWaitUntil(
        res.headers.get('retry-after'),
        reason,
        now,
        this.#d.budget.config.windowMs,
      );
      const revealed = limit ? { calls: limit.calls, windowMs: limit.windowMs } : undefined;
      await this.#d.budget.penalize(this.#d.budgetKey, now, { waitUntil, revealedLimit: revealed });
      throw new RateLimitedError(
        `rate limited (429)${reason ? `: ${reason.slice(0, 200)}` : ''}`,
        waitUntil,
        revealed,
      );
    }
    if (s === 401) throw new UnauthorizedError();
    if (s === 403) {
      if (reason && /revoked/i.test(reason)) {
        const dh = deleteHealthOf(text);
        throw new RevokedError('access was revoked by the user (403 Revoked)', dh);
      }
      throw new ForbiddenError(`forbidden (403)${reason ? `: ${reason.slice(0, 200)}` : ''}`, 403);
    }
    if (s === 404 || s === 410) throw new NotFoundError(`not found (${s})`, s);
    if (s >= 500 || s === 408) throw new TransientError(`server error (${s})`, s);
    if (s >= 300 && s < 400)
      throw new InvalidPayloadError(`unexpected redirect (${s}) not followed`, '', s);
    throw new InvalidPayloadError(`unexpected status ${s}`, text, s);
  }
}

function safeRef(uri: string, feed: FeedName, apiBase: string): ItemRef | undefined {
  try {
    const ref = parseItemUri(uri, apiBase);
    return ref.feed === feed ? ref : undefined;
  } catch {
    return undefined;
  }
}

function parseJson(text: string, status: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidPayloadError('response is not valid JSON', text, status);
  }
}

function safeText(res: HttpResponse): string {
  try {
    return res.text();
  } catch {
    return '';
  }
}

function reasonOf(text: string): string | undefined {
  try {
    const j = JSON.parse(text) as { reason?: unknown; error?: unknown };
    if (typeof j.reason === 'string') return j.reason;
    if (typeof j.error === 'string') return j.error;
  } catch {
    // Not JSON: use the text itself when short (some proxies answer in plain text).
  }
  return text.length > 0 && text.length < 500 ? text : undefined;
}

function deleteHealthOf(text: string): boolean {
  try {
    const v = (JSON.parse(text) as { delete_health?: unknown }).delete_health;
    return v === true || v === 'true';
  } catch {
    return false;
  }
}

/** Paths carry no secrets, but strip query strings from logs anyway. */
function redactPath(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

export function isRetryable(e: unknown): boolean {
  return e instanceof HealthGraphError && e.retryable;
}
