/**
 * The Health Graph simulator: one loopback HTTP server playing both runkeeper.com
 * (`/www`: OAuth authorize, token, de-authorize) and api.runkeeper.com (`/api`), plus a
 * CDN-like `/img` for activity photos. Faithful to /work/shared/docs/health-graph-api.md:
 * relative URIs in payloads, vendor media types, `next` links that repeat every
 * effective filter, 429 with a `reason` and no Retry-After, 403 Revoked.
 */
import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AppLimitOptions, AppLimits } from './app-limits.ts';
import { FEED_FIELD_OF, type Item, imageBytes, type UserData, World } from './data.ts';
import { type FaultController, type FaultOptions, Faults, type ScriptedFault } from './faults.ts';
import { FEED_NAMES, FEEDS, type FeedName, realClock, type SimClock } from './feeds.ts';
import { hex, mixSeed, mulberry32, parseDateParam, ymd } from './util.ts';

export type {
  FaultController,
  FaultKind,
  FaultOptions,
  RandomFaults,
  ScriptedFault,
} from './faults.ts';

export interface SimulatorOptions {
  /** Default 0 (ephemeral). */
  port?: number;
  /** Default 127.0.0.1; only loopback addresses are accepted. */
  host?: string;
  /** Default 1. */
  users?: number;
  /** Fitness activities per user, default 50. */
  activities?: number;
  /** Default 42; all data is deterministic from it (and the clock's start day). */
  seed?: number;
  /** Default the real clock; rate limit, change log and modification times use it. */
  clock?: SimClock;
  /** Per-user sliding window, default 100 calls / 900 000 ms. */
  rateLimit?: { calls: number; windowMs: number };
  /** Authorize redirects at once (default false: consent page with Approve/Deny). */
  autoApprove?: boolean;
  clientId?: string;
  clientSecret?: string;
  /** Loopback URL that receives `{"access_token": ...}` when a token is de-authorized. */
  deauthCallbackUrl?: string;
  /** Default 1000; larger pageSize values are clamped. */
  maxPageSize?: number;
  /** Faults active from the start. */
  faults?: FaultOptions;
  /**
   * App-wide limits over every user's calls (the contract's observed 429 texts): by default
   * 5,000 calls per 15 minutes (sliding) and 300,000 per UTC day (reset daily).
   */
  appRateLimits?: AppLimitOptions;
}

export interface CallRecord {
  t: number;
  userId: string | null;
  method: string;
  /** Path under its prefix (`/fitnessActivities?page=1...`, `/apps/token`), query included, access_token removed. */
  path: string;
  /** 0 when no status was sent (hang, reset). */
  status: number;
}

export interface Simulator {
  authBaseUrl: string;
  apiBaseUrl: string;
  clientId: string;
  clientSecret: string;
  users: { userId: string; accessToken: string }[];
  callLog: CallRecord[];
  http429(): number;
  maxCallsInWindow(userId: string): number;
  faults: FaultController;
  mutate: {
    addActivity(userId: string, opts?: { startTime?: Date }): string;
    editActivity(userId: string, id: string): void;
    deleteActivity(userId: string, id: string): void;
  };
  revoke(userId: string): void;
  activityIds(userId: string, feed?: string): string[];
  document(userId: string, feed: string, id: string): unknown;
  close(): Promise<void>;
}

const DAY = 86_400_000;
const CODE_TTL_MS = 10 * 60_000;
const MAX_BODY = 64 * 1024;

const vnd = (name: string): string => `application/vnd.com.runkeeper.${name}+json`;

/** Accepted vendor names per feed: [feed types], [item types]; the first is the default. */
const MEDIA: Record<FeedName, { feed: string[]; item: string[] }> = {
  fitnessActivities: {
    feed: ['FitnessActivityFeed'],
    item: ['FitnessActivity', 'FitnessActivitySummary'],
  },
  strengthTrainingActivities: {
    feed: ['StrengthTrainingActivityFeed'],
    item: ['StrengthTrainingActivity'],
  },
  backgroundActivities: {
    feed: ['BackgroundActivitySetFeed', 'BackgroundActivityFeed'],
    item: ['BackgroundActivitySet', 'BackgroundActivity'],
  },
  sleep: { feed: ['SleepSetFeed', 'SleepFeed'], item: ['SleepSet', 'Sleep'] },
  nutrition: { feed: ['NutritionSetFeed', 'NutritionFeed'], item: ['NutritionSet', 'Nutrition'] },
  weight: { feed: ['WeightSetFeed', 'WeightFeed'], item: ['WeightSet', 'Weight'] },
  generalMeasurements: {
    feed: ['GeneralMeasurementSetFeed', 'GeneralMeasurementFeed'],
    item: ['GeneralMeasurementSet', 'GeneralMeasurement'],
  },
  diabetes: {
    feed: ['DiabetesMeasurementSetFeed', 'DiabetesFeed'],
    item: ['DiabetesMeasurementSet', 'DiabetesMeasurement'],
  },
};

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
  /** The value behind a JSON body (for content faults). */
  json?: unknown;
}

function jsonReply(status: number, value: unknown, type?: string): Reply {
  return {
    status,
    headers: { 'content-type': `${type ? vnd(type) : 'application/json'}; charset=utf-8` },
    body: JSON.stringify(value),
    json: value,
  };
}

const reasonReply = (status: number, reason: string): Reply => jsonReply(status, { reason });

function htmlReply(status: number, title: string, inner: string): Reply {
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body: `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body>${inner}</body></html>`,
  };
}

function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** The vendor type an Accept header selects from `allowed` ('' = default), or null (406). */
export function negotiate(accept: string | undefined, allowed: string[]): string | null {
  const def = allowed[0] ?? '';
  if (accept === undefined || accept.trim() === '') return def;
  for (const part of accept.split(',').slice(0, 32)) {
    const type = (part.split(';')[0] ?? '').trim().toLowerCase();
    if (type === '*/*' || type === 'application/*' || type === 'application/json') return def;
    const hit = allowed.find((name) => vnd(name).toLowerCase() === type);
    if (hit) return hit;
  }
  return null;
}

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function toLatin1(s: string): Buffer {
  let out = '';
  for (const ch of s) out += (ch.codePointAt(0) ?? 0) > 0xff ? '?' : ch;
  return Buffer.from(out, 'latin1');
}

function mismatched(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(mismatched);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  let touched = false;
  if (typeof out.uri === 'string') {
    out.uri = out.uri.replace(/\d+/, (d) => String((Number(d) % 999_999_999) + 1));
    touched = true;
  }
  if (typeof out.userID === 'number') {
    out.userID = out.userID + 1;
    touched = true;
  }
  if (!touched && Array.isArray(out.items)) out.items = out.items.map(mismatched);
  return out;
}

interface Token {
  userId: string;
  revoked: boolean;
}

interface Code {
  userId: string;
  clientId: string;
  redirectUri: string;
  expiresAt: number;
  used: boolean;
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    n += b.length;
    if (n > MAX_BODY) throw new BodyTooLarge('body too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseForm(req: IncomingMessage, body: string): URLSearchParams {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('application/json')) {
    const params = new URLSearchParams();
    try {
      const v = JSON.parse(body) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        for (const [k, val] of Object.entries(v)) if (typeof val === 'string') params.set(k, val);
      }
    } catch {
      // an unparsable body has no fields
    }
    return params;
  }
  return new URLSearchParams(body);
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new Error(`simulator host must be loopback, got ${host}`);
  const clock = opts.clock ?? realClock;
  const seed = opts.seed ?? 42;
  const limit = opts.rateLimit ?? { calls: 100, windowMs: 900_000 };
  if (!(limit.calls >= 1 && limit.windowMs >= 1)) throw new Error('rateLimit must be positive');
  const maxPageSize = Math.max(1, Math.floor(opts.maxPageSize ?? 1000));
  let deauthUrl: URL | undefined;
  if (opts.deauthCallbackUrl) {
    deauthUrl = new URL(opts.deauthCallbackUrl);
    if (!isLoopbackHost(deauthUrl.hostname)) {
      throw new Error('deauthCallbackUrl must point at a loopback address');
    }
  }
  const credRng = mulberry32(mixSeed(seed, 0xc11e));
  const clientId = opts.clientId ?? hex(credRng, 32);
  const clientSecret = opts.clientSecret ?? hex(credRng, 32);

  // Data anchored at the start of the clock's current UTC day: same seed + same day → same data.
  const anchor = Math.floor(clock.now() / DAY) * DAY;
  const world = new World(seed, opts.users ?? 1, opts.activities ?? 50, anchor);
  world.startedAtMs = clock.now();
  const faults = new Faults(seed, opts.faults);

  const tokens = new Map<string, Token>();
  const codes = new Map<string, Code>();
  const users = world.users.map((u, i) => {
    const accessToken = hex(mulberry32(mixSeed(seed, 0x70c, i)), 32);
    tokens.set(accessToken, { userId: u.userId, revoked: false });
    return { userId: u.userId, accessToken };
  });
  const callLog: CallRecord[] = [];
  const userCalls = new Map<string, number[]>();
  let served429 = 0;
  const timers = new Set<NodeJS.Timeout>();
  const callbacks = new Set<AbortController>();
  let origin = '';
  let closed = false;

  const minutesText = (): string =>
    limit.windowMs % 60_000 === 0
      ? `${limit.windowMs / 60_000} minutes`
      : `${limit.windowMs / 1000} seconds`;
  const limitReason = (): string =>
    `Rate-limit exceeded. rate limit is ${limit.calls} calls per ${minutesText()} for this user`;

  // ------------------------------------------------------------------ sending

  function write(res: ServerResponse, record: CallRecord | undefined, reply: Reply): void {
    if (record) record.status = reply.status;
    if (reply.status === 429) served429++;
    if (res.destroyed) return;
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    res.writeHead(reply.status, { ...reply.headers, 'content-length': String(body.length) });
    res.end(body);
  }

  function deliver(
    req: IncomingMessage,
    res: ServerResponse,
    record: CallRecord | undefined,
    reply: Reply,
    fault: ScriptedFault | undefined,
  ): void {
    if (!fault) {
      write(res, record, reply);
      return;
    }
    const bodyText = typeof reply.body === 'string' ? reply.body : reply.body.toString('utf8');
    const type = reply.headers['content-type'] ?? 'application/json; charset=utf-8';
    switch (fault.kind) {
      case 'status': {
        const status = fault.status ?? 500;
        write(res, record, {
          status,
          headers: { 'content-type': fault.contentType ?? 'application/json; charset=utf-8' },
          body: fault.body ?? JSON.stringify({ reason: `Simulated ${status}` }),
        });
        return;
      }
      case '429': {
        const r = reasonReply(429, fault.reason ?? limitReason());
        if (fault.retryAfter !== undefined) r.headers['retry-after'] = String(fault.retryAfter);
        write(res, record, r);
        return;
      }
      case 'hang':
        // Never answer; close() destroys the socket.
        if (record) record.status = 0;
        return;
      case 'reset':
        if (record) record.status = 0;
        req.socket.resetAndDestroy();
        return;
      case 'malformed': {
        const cut = Math.max(1, Math.floor(bodyText.length * 0.6));
        write(res, record, {
          status: 200,
          headers: { 'content-type': type },
          body: bodyText.slice(0, Math.min(cut, bodyText.length - 1)),
        });
        return;
      }
      case 'html':
        write(
          res,
          record,
          htmlReply(
            200,
            'Down for maintenance',
            '<h1>Runkeeper is down for maintenance</h1><p>We will be back shortly.</p>',
          ),
        );
        return;
      case 'charset-latin1':
        write(res, record, {
          status: reply.status,
          headers: {
            ...reply.headers,
            'content-type': /charset=/i.test(type)
              ? type.replace(/charset=[^;]*/i, 'charset=ISO-8859-1')
              : `${type}; charset=ISO-8859-1`,
          },
          body: toLatin1(bodyText),
        });
        return;
      case 'wrong-type': {
        const v = reply.json;
        const wrong = Array.isArray(v) ? { items: v } : [v ?? null];
        write(res, record, {
          status: 200,
          headers: reply.headers,
          body: JSON.stringify(wrong),
        });
        return;
      }
      case 'mismatch':
        write(res, record, {
          status: reply.status,
          headers: reply.headers,
          body: JSON.stringify(mismatched(reply.json ?? null)),
        });
        return;
      case 'slow':
        slow(res, record, reply, fault.delayMs ?? 2000);
        return;
      case 'oversize':
        oversize(res, record, fault.bytes ?? 60 * 1024 * 1024);
        return;
    }
  }

  function slow(
    res: ServerResponse,
    record: CallRecord | undefined,
    reply: Reply,
    delayMs: number,
  ): void {
    if (record) record.status = reply.status;
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    res.writeHead(reply.status, { ...reply.headers, 'content-length': String(body.length) });
    const pieces = Math.max(1, Math.min(20, body.length));
    const size = Math.ceil(body.length / pieces);
    let i = 0;
    const tick = (): void => {
      if (res.destroyed || closed) return;
      const chunk = body.subarray(i * size, (i + 1) * size);
      i++;
      if (i >= pieces) {
        res.end(chunk);
        return;
      }
      res.write(chunk);
      const t = setTimeout(() => {
        timers.delete(t);
        tick();
      }, delayMs / pieces);
      timers.add(t);
    };
    tick();
  }

  function oversize(res: ServerResponse, record: CallRecord | undefined, total: number): void {
    if (record) record.status = 200;
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const head = Buffer.from('{"size":1,"items":[],"padding":"');
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        if (res.destroyed || closed) return;
        const n = Math.min(chunk.length, total - sent);
        const piece =
          sent === 0 ? Buffer.concat([head, chunk]).subarray(0, n) : chunk.subarray(0, n);
        sent += n;
        if (!res.write(piece)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  }

  // ------------------------------------------------------------------ rate limit

  function countCall(userId: string, t: number): number {
    let list = userCalls.get(userId);
    if (!list) {
      list = [];
      userCalls.set(userId, list);
    }
    list.push(t);
    let inWindow = 0;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]! <= t - limit.windowMs) break;
      inWindow++;
    }
    return inWindow;
  }

  const appLimits = new AppLimits(opts.appRateLimits);

  function maxCallsInWindow(userId: string): number {
    const list = [...(userCalls.get(userId) ?? [])].sort((a, b) => a - b);
    let best = 0;
    let lo = 0;
    for (let hi = 0; hi < list.length; hi++) {
      while (lo < hi && list[lo]! <= list[hi]! - limit.windowMs) lo++;
      best = Math.max(best, hi - lo + 1);
    }
    return best;
  }

  // ------------------------------------------------------------------ API side

  function dateParam(
    url: URL,
    name: string,
    def: string,
    allowTime: boolean,
  ): { text: string; from: number; to: number } | string {
    const raw = url.searchParams.get(name);
    const text = raw ?? def;
    const parsed = parseDateParam(text);
    if (!parsed || (parsed.hasTime && !allowTime)) return `${name} must be yyyy-MM-dd`;
    return { text, from: parsed.from, to: parsed.to };
  }

  function intParam(url: URL, name: string, def: number, min: number): number | string {
    const raw = url.searchParams.get(name);
    if (raw === null) return def;
    if (!/^\d{1,9}$/.test(raw) || Number(raw) < min) return `${name} must be an integer >= ${min}`;
    return Number(raw);
  }

  function feedPage(user: UserData, feed: FeedName, url: URL, mediaName: string): Reply {
    const page = intParam(url, 'page', 0, 0);
    const pageSizeRaw = intParam(url, 'pageSize', 25, 1);
    if (typeof page === 'string') return reasonReply(400, page);
    if (typeof pageSizeRaw === 'string') return reasonReply(400, pageSizeRaw);
    const pageSize = Math.min(pageSizeRaw, maxPageSize);
    const today2 = ymd(clock.now() + 2 * DAY);
    const nE = dateParam(url, 'noEarlierThan', '1970-01-01', false);
    const nL = dateParam(url, 'noLaterThan', today2, false);
    // Feeds take dates only (yyyy-MM-dd), the modified filters too; only /changeLog takes times.
    const mE = dateParam(url, 'modifiedNoEarlierThan', '1970-01-01', false);
    const mL = dateParam(url, 'modifiedNoLaterThan', today2, false);
    for (const p of [nE, nL, mE, mL]) if (typeof p === 'string') return reasonReply(400, p);
    if (typeof nE === 'string' || typeof nL === 'string') return reasonReply(400, 'bad date');
    if (typeof mE === 'string' || typeof mL === 'string') return reasonReply(400, 'bad date');
    const matching = world
      .sorted(user, feed)
      .filter(
        (i) =>
          i.localDate >= nE.text &&
          i.localDate <= nL.text &&
          i.modifiedMs >= mE.from &&
          i.modifiedMs <= mL.to,
      );
    const start = page * pageSize;
    const items = matching.slice(start, start + pageSize).map((i) => world.feedItem(i));
    const link = (p: number): string =>
      `/${feed}?page=${p}&pageSize=${pageSize}&noEarlierThan=${nE.text}&noLaterThan=${nL.text}` +
      `&modifiedNoEarlierThan=${mE.text}&modifiedNoLaterThan=${mL.text}`;
    const body: Record<string, unknown> = { size: matching.length, items };
    if (start + pageSize < matching.length) body.next = link(page + 1);
    if (page > 0) body.previous = link(page - 1);
    return jsonReply(200, body, mediaName);
  }

  function teamPage(user: UserData, url: URL, mediaName: string): Reply {
    const page = intParam(url, 'page', 0, 0);
    const pageSizeRaw = intParam(url, 'pageSize', 25, 1);
    if (typeof page === 'string') return reasonReply(400, page);
    if (typeof pageSizeRaw === 'string') return reasonReply(400, pageSizeRaw);
    const pageSize = Math.min(pageSizeRaw, maxPageSize);
    const all = user.team.map((m) => ({
      userID: m.userID,
      name: m.name,
      profile: `https://runkeeper.com/user/${m.userID}/profile`,
      url: `/team/${m.userID}`,
    }));
    const start = page * pageSize;
    const body: Record<string, unknown> = {
      size: all.length,
      items: all.slice(start, start + pageSize),
    };
    const link = (p: number): string => `/team?page=${p}&pageSize=${pageSize}`;
    if (start + pageSize < all.length) body.next = link(page + 1);
    if (page > 0) body.previous = link(page - 1);
    return jsonReply(200, body, mediaName);
  }

  function changeLog(user: UserData, url: URL): Reply {
    const now = clock.now();
    const rawE = url.searchParams.get('modifiedNoEarlierThan');
    const rawL = url.searchParams.get('modifiedNoLaterThan');
    // The change log takes date-times (yyyy-mm-ddThh:mm:ss) only.
    const e = rawE === null ? { from: now - 7 * DAY, hasTime: true } : parseDateParam(rawE);
    const l = rawL === null ? { to: now, hasTime: true } : parseDateParam(rawL);
    if (!e?.hasTime) return reasonReply(400, 'modifiedNoEarlierThan must be yyyy-MM-ddTHH:mm:ss');
    if (!l?.hasTime) return reasonReply(400, 'modifiedNoLaterThan must be yyyy-MM-ddTHH:mm:ss');
    const from = e.from;
    // The window is capped at 7 days: a longer request is silently shortened.
    const to = Math.min(l.to, from + 7 * DAY);
    const out: Record<string, unknown> = {};
    for (const feed of FEED_NAMES) {
      const modified = [...user.items.get(feed)!.values()]
        .filter((i) => i.modifiedMs >= from && i.modifiedMs <= to)
        .sort((a, b) => a.modifiedMs - b.modifiedMs || (a.id < b.id ? -1 : 1))
        .map((i) => world.feedItem(i));
      const deleted = [
        ...new Set(
          user.tombstones
            .filter((t) => t.feed === feed && t.deletedMs >= from && t.deletedMs <= to)
            .map((t) => `/${t.feed}/${t.id}`),
        ),
      ];
      // The documented shape: each feed key holds an array of changes ("Changes[]").
      out[FEED_FIELD_OF[feed]] = [{ modified, deleted }];
    }
    return jsonReply(200, out, 'ChangeLog');
  }

  function userDoc(user: UserData): Record<string, unknown> {
    const doc: Record<string, unknown> = {
      userID: Number(user.userId),
      profile: '/profile',
      settings: '/settings',
    };
    for (const [field, feed] of Object.entries(FEEDS)) doc[field] = `/${feed}`;
    doc.records = '/records';
    doc.team = '/team';
    doc.change_log = '/changeLog';
    return doc;
  }

  const FEED_RE = new RegExp(`^/(${FEED_NAMES.join('|')})$`);
  const ITEM_RE = new RegExp(`^/(${FEED_NAMES.join('|')})/(\\d{1,20})$`);
  const COMMENTS_RE = /^\/(fitnessActivities|strengthTrainingActivities)\/(\d{1,20})\/comments$/;

  /** Route one authenticated GET. */
  function route(user: UserData, rel: string, url: URL, accept: string | undefined): Reply {
    const single = (name: string, make: () => unknown): Reply => {
      const chosen = negotiate(accept, [name]);
      if (chosen === null) return reasonReply(406, 'Not Acceptable');
      return jsonReply(200, make(), chosen);
    };
    switch (rel) {
      case '/user':
        return single('User', () => userDoc(user));
      case '/profile':
        return single('Profile', () => world.profile(user, origin));
      case '/settings':
        return single('Settings', () => world.settings(user));
      case '/records':
        return single('Records', () => world.records(user, clock.now()));
      case '/changeLog': {
        if (negotiate(accept, ['ChangeLog']) === null) return reasonReply(406, 'Not Acceptable');
        return changeLog(user, url);
      }
      case '/team': {
        const chosen = negotiate(accept, ['TeamFeed']);
        if (chosen === null) return reasonReply(406, 'Not Acceptable');
        return teamPage(user, url, chosen);
      }
    }
    let m = FEED_RE.exec(rel);
    if (m) {
      const feed = m[1] as FeedName;
      const chosen = negotiate(accept, MEDIA[feed].feed);
      if (chosen === null) return reasonReply(406, 'Not Acceptable');
      return feedPage(user, feed, url, chosen);
    }
    m = ITEM_RE.exec(rel);
    if (m) {
      const feed = m[1] as FeedName;
      const item = world.item(user, feed, m[2]!);
      if (!item) return reasonReply(404, 'Not Found');
      const chosen = negotiate(accept, MEDIA[feed].item);
      if (chosen === null) return reasonReply(406, 'Not Acceptable');
      const summary = chosen === 'FitnessActivitySummary';
      return jsonReply(200, world.detail(user, item, origin, summary, clock.now()), chosen);
    }
    m = COMMENTS_RE.exec(rel);
    if (m) {
      const item = world.item(user, m[1] as FeedName, m[2]!);
      if (!item) return reasonReply(404, 'Not Found');
      return single('CommentThread', () => world.comments(user, item));
    }
    m = /^\/team\/(\d{1,20})$/.exec(rel);
    if (m) {
      const member = user.team.find((t) => String(t.userID) === m?.[1]);
      if (!member) return reasonReply(404, 'Not Found');
      return single('Member', () => ({
        userID: member.userID,
        name: member.name,
        profile: `https://runkeeper.com/user/${member.userID}/profile`,
        status: 'member',
      }));
    }
    return reasonReply(404, 'Not Found');
  }

  function logPath(rel: string, url: URL): string {
    const params = new URLSearchParams(url.search);
    params.delete('access_token');
    const q = params.toString();
    return q ? `${rel}?${q}` : rel;
  }

  function api(req: IncomingMessage, res: ServerResponse, rel: string, url: URL): void {
    const record: CallRecord = {
      t: clock.now(),
      userId: null,
      method: req.method ?? 'GET',
      path: logPath(rel, url),
      status: 0,
    };
    callLog.push(record);
    const auth = req.headers.authorization ?? '';
    const bearer = /^Bearer\s+(\S+)$/i.exec(auth)?.[1] ?? url.searchParams.get('access_token');
    const token = bearer ? tokens.get(bearer) : undefined;
    if (!token) {
      const r = reasonReply(401, 'Unauthorized');
      r.headers['www-authenticate'] = 'Bearer';
      write(res, record, r);
      return;
    }
    record.userId = token.userId;
    const inWindow = countCall(token.userId, record.t);
    if (token.revoked) {
      write(
        res,
        record,
        // The docs type delete_health Boolean, but their examples send a string.
        jsonReply(403, { reason: 'Revoked', delete_health: 'false' }, 'ErrorMessage'),
      );
      return;
    }
    if (inWindow > limit.calls) {
      write(res, record, reasonReply(429, limitReason()));
      return;
    }
    const appHit = appLimits.hit(record.t);
    if (appHit) {
      write(res, record, reasonReply(429, appHit));
      return;
    }
    const fault = faults.take(rel, true);
    if (!fault) {
      const hit = faults.roll();
      if (hit?.status === 429) {
        write(res, record, reasonReply(429, limitReason()));
        return;
      }
      if (hit) {
        write(res, record, reasonReply(hit.status, `Simulated ${hit.status}`));
        return;
      }
    }
    let reply: Reply;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply = reasonReply(405, 'Method Not Allowed');
      reply.headers.allow = 'GET, HEAD';
    } else {
      const user = world.user(token.userId);
      reply =
        notModified(user, rel, req.headers['if-modified-since']) ??
        route(user, rel, url, req.headers.accept);
      if (reply.status === 200 && rel === '/fitnessActivities') {
        const page = Number(url.searchParams.get('page') ?? '0');
        const n = faults.insertDuringPaging;
        if (page >= 1) for (let i = 0; i < n; i++) world.addActivity(user.userId, clock.now());
        if (page === 1) {
          const newest = world
            .sorted(user, 'fitnessActivities')
            .slice(0, faults.takeDeleteDuringPaging());
          for (const it of newest) world.deleteActivity(user.userId, it.id, clock.now());
        }
      }
    }
    if (req.method === 'HEAD') {
      // Headers of the GET, no body (content-length stays that of the body).
      const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
      record.status = reply.status;
      if (!res.destroyed) {
        res.writeHead(reply.status, { ...reply.headers, 'content-length': String(body.length) });
        res.end();
      }
      return;
    }
    deliver(req, res, record, reply, fault);
  }

  /**
   * `If-Modified-Since` (an HTTP-date, GMT) on an item: 304 with no body when the item has not
   * changed since then (one-second precision, as the header carries).
   */
  function notModified(user: UserData, rel: string, since: string | undefined): Reply | undefined {
    if (since === undefined) return undefined;
    const t = Date.parse(since);
    if (!/GMT$/.test(since.trim()) || !Number.isFinite(t)) return undefined;
    const m = ITEM_RE.exec(rel);
    const item = m ? world.item(user, m[1] as FeedName, m[2]!) : undefined;
    if (!item || Math.floor(item.modifiedMs / 1000) * 1000 > t) return undefined;
    return { status: 304, headers: {}, body: '' };
  }

  // ------------------------------------------------------------------ www side

  function authorizeParams(p: URLSearchParams):
    | { error: string }
    | {
        redirectUri: string;
        state: string | null;
        userId: string;
      } {
    if (p.get('client_id') !== clientId) return { error: 'Unknown client_id.' };
    if (p.get('response_type') !== 'code') return { error: 'response_type must be "code".' };
    const redirectUri = p.get('redirect_uri') ?? '';
    let u: URL;
    try {
      u = new URL(redirectUri);
    } catch {
      return { error: 'redirect_uri is missing or not a URL.' };
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      return { error: 'redirect_uri must be http(s).' };
    }
    const simUser = p.get('sim_user');
    const user = simUser === null ? world.users[0] : world.byId.get(simUser);
    if (!user) return { error: 'Unknown user.' };
    return { redirectUri, state: p.get('state'), userId: user.userId };
  }

  function redirect(target: string, params: Record<string, string | null>): Reply {
    const u = new URL(target);
    for (const [k, v] of Object.entries(params)) if (v !== null) u.searchParams.set(k, v);
    return { status: 302, headers: { location: u.toString() }, body: '' };
  }

  function approve(a: { redirectUri: string; state: string | null; userId: string }): Reply {
    const code = randomBytes(16).toString('hex');
    codes.set(code, {
      userId: a.userId,
      clientId,
      redirectUri: a.redirectUri,
      expiresAt: clock.now() + CODE_TTL_MS,
      used: false,
    });
    return redirect(a.redirectUri, { code, state: a.state });
  }

  function consentPage(p: URLSearchParams, a: { userId: string }): Reply {
    const hidden = ['client_id', 'response_type', 'redirect_uri', 'state']
      .filter((k) => p.get(k) !== null)
      .map((k) => `<input type="hidden" name="${k}" value="${esc(p.get(k) ?? '')}">`)
      .join('');
    const user = world.byId.get(a.userId)!;
    return htmlReply(
      200,
      'Authorize application',
      `<h1>Allow this application to access your Runkeeper data?</h1><p>Signed in as ${esc(user.name)} (${user.userId}).</p>` +
        `<form method="post" action="/www/apps/authorize">${hidden}<input type="hidden" name="sim_user" value="${user.userId}">` +
        '<button type="submit" name="action" value="approve">Approve</button> ' +
        '<button type="submit" name="action" value="deny">Deny</button></form>',
    );
  }

  async function www(
    req: IncomingMessage,
    res: ServerResponse,
    rel: string,
    url: URL,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const logged = rel === '/apps/token' || rel === '/apps/de-authorize';
    const record: CallRecord | undefined = logged
      ? { t: clock.now(), userId: null, method, path: rel, status: 0 }
      : undefined;
    if (record) callLog.push(record);
    let body = '';
    if (method === 'POST') {
      try {
        body = await readBody(req);
      } catch (err) {
        if (err instanceof BodyTooLarge)
          return write(res, record, reasonReply(413, 'Body too large'));
        throw err;
      }
    }
    const form = parseForm(req, body);
    const fault = faults.take(rel, false);
    let reply: Reply;
    if (rel === '/apps/authorize' && method === 'GET') {
      const a = authorizeParams(url.searchParams);
      if ('error' in a)
        reply = htmlReply(400, 'Bad request', `<h1>Bad request</h1><p>${esc(a.error)}</p>`);
      else reply = opts.autoApprove ? approve(a) : consentPage(url.searchParams, a);
    } else if (rel === '/apps/authorize' && method === 'POST') {
      const a = authorizeParams(form);
      if ('error' in a)
        reply = htmlReply(400, 'Bad request', `<h1>Bad request</h1><p>${esc(a.error)}</p>`);
      else if (form.get('action') === 'approve') reply = approve(a);
      else reply = redirect(a.redirectUri, { error: 'access_denied', state: a.state });
    } else if (rel === '/apps/token' && method === 'POST') {
      reply = tokenEndpoint(form, record);
    } else if (rel === '/apps/de-authorize' && method === 'POST') {
      const t = form.get('access_token') ?? '';
      const tok = tokens.get(t);
      if (record && tok) record.userId = tok.userId;
      if (!tok) reply = jsonReply(400, { error: 'invalid_token' });
      else {
        if (!tok.revoked) {
          tok.revoked = true;
          notifyDeauth(t);
        }
        reply = { status: 204, headers: {}, body: '' };
      }
    } else if (['/apps/authorize', '/apps/token', '/apps/de-authorize'].includes(rel)) {
      reply = htmlReply(405, 'Method not allowed', '<h1>405 Method Not Allowed</h1>');
    } else {
      reply = htmlReply(404, 'Not found', '<h1>404 Not Found</h1>');
    }
    deliver(req, res, record, reply, fault);
  }

  function tokenEndpoint(form: URLSearchParams, record: CallRecord | undefined): Reply {
    const code = codes.get(form.get('code') ?? '');
    if (record && code) record.userId = code.userId;
    if (form.get('grant_type') !== 'authorization_code') {
      return jsonReply(400, { error: 'unsupported_grant_type' });
    }
    if (form.get('client_id') !== clientId) return jsonReply(401, { error: 'invalid_client' });
    if (form.get('client_secret') !== clientSecret)
      return jsonReply(400, { error: 'invalid_grant' });
    if (!code || code.used || code.expiresAt < clock.now() || code.clientId !== clientId) {
      return jsonReply(400, { error: 'invalid_grant' });
    }
    if (form.get('redirect_uri') !== code.redirectUri)
      return jsonReply(400, { error: 'invalid_grant' });
    code.used = true;
    const accessToken = randomBytes(16).toString('hex');
    tokens.set(accessToken, { userId: code.userId, revoked: false });
    return jsonReply(200, { token_type: 'Bearer', access_token: accessToken });
  }

  function notifyDeauth(token: string): void {
    if (!deauthUrl || closed) return;
    const ac = new AbortController();
    callbacks.add(ac);
    fetch(deauthUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ access_token: token }),
      signal: ac.signal,
    })
      .then((r) => r.body?.cancel())
      .catch(() => {})
      .finally(() => callbacks.delete(ac));
  }

  // ------------------------------------------------------------------ images

  function image(req: IncomingMessage, res: ServerResponse, path: string): void {
    const m = /^\/img\/(\d{1,20})\/([a-z0-9]{1,20})\/([a-z0-9_]{1,20})\.jpg$/.exec(path);
    const fault = faults.take(path, false);
    if (!m || req.method !== 'GET') {
      deliver(req, res, undefined, htmlReply(404, 'Not found', '<h1>404</h1>'), fault);
      return;
    }
    const bytes = imageBytes(`${m[1]}/${m[2]}/${m[3]}`, m[3]!.endsWith('_thumb'));
    deliver(
      req,
      res,
      undefined,
      {
        status: 200,
        headers: { 'content-type': 'image/jpeg', 'cache-control': 'public, max-age=86400' },
        body: bytes,
      },
      fault,
    );
  }

  // ------------------------------------------------------------------ server

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    let path = url.pathname;
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    if (path === '/api' || path.startsWith('/api/')) {
      return api(req, res, path.slice(4) || '/', url);
    }
    if (path.startsWith('/www/')) return www(req, res, path.slice(4), url);
    if (path.startsWith('/img/')) return image(req, res, path);
    write(res, undefined, htmlReply(404, 'Not found', '<h1>404 Not Found</h1>'));
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) {
        write(res, undefined, reasonReply(500, 'Internal Server Error'));
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  origin = `http://${urlHost}:${port}`;

  function feedOf(feed: string | undefined): FeedName {
    const f = (feed ?? 'fitnessActivities') as FeedName;
    if (!FEED_NAMES.includes(f)) throw new Error(`unknown feed ${feed}`);
    return f;
  }

  const sim: Simulator = {
    authBaseUrl: `${origin}/www`,
    apiBaseUrl: `${origin}/api`,
    clientId,
    clientSecret,
    users,
    callLog,
    http429: () => served429,
    maxCallsInWindow,
    faults,
    mutate: {
      addActivity: (userId, o) => world.addActivity(userId, clock.now(), o?.startTime),
      editActivity: (userId, id) => world.editActivity(userId, id, clock.now()),
      deleteActivity: (userId, id) => world.deleteActivity(userId, id, clock.now()),
    },
    revoke(userId) {
      world.user(userId);
      for (const [t, tok] of tokens) {
        if (tok.userId === userId && !tok.revoked) {
          tok.revoked = true;
          notifyDeauth(t);
        }
      }
    },
    activityIds: (userId, feed) =>
      world.sorted(world.user(userId), feedOf(feed)).map((i: Item) => i.id),
    document(userId, feed, id) {
      const user = world.user(userId);
      const item = world.item(user, feedOf(feed), id);
      return item ? world.detail(user, item, origin, false, clock.now()) : undefined;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const ac of callbacks) ac.abort();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
    },
  };
  return sim;
}
