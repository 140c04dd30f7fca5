/**
 * A Strava API v3 simulator that can say no: OAuth 2 with expiring access tokens and rotating
 * refresh tokens, asynchronous uploads ("processing" → ready or error), duplicate detection
 * by external_id and by file content, manual activities, the athlete's activity list, and
 * both per-application rate-limit windows (15 minutes and daily, overall and "non-upload")
 * with Strava's headers and 429 bodies. Faults are injectable (5xx, slow processing, revoked
 * token). It shares no code with the pusher (functions/) on purpose: it is the oracle.
 *
 * Contract sources: developers.strava.com/docs/rate-limits, /docs/uploads, /docs/authentication
 * and /docs/reference (see docs/strava.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { parseMeta } from './files.ts';
import { RateWindows, type WindowLimits } from './limits.ts';

export interface SimClock {
  now(): number;
}

export interface StravaSimOptions {
  port?: number;
  clock?: SimClock;
  /** Overall limit (15 min, daily) and "non-upload" read limit; Strava's defaults. */
  limits?: WindowLimits;
  /** Access token lifetime (Strava: 6 hours). */
  tokenTtlMs?: number;
  /** How long an upload stays "processing" (virtual ms). */
  processingMs?: number;
  /** Activities already on the athlete's Strava (a watch, another tool). */
  existing?: SimActivity[];
  autoApprove?: boolean;
}

export interface SimActivity {
  id: number;
  name: string;
  sport_type: string;
  start_date: string;
  start_date_local: string;
  elapsed_time: number;
  distance: number;
  description?: string | undefined;
  external_id?: string | null | undefined;
  upload_id?: number | null | undefined;
  hide_from_home?: boolean | undefined;
  trainer?: boolean | undefined;
  manual: boolean;
}

interface Upload {
  id: number;
  external_id: string | null;
  readyAt: number;
  outcome: { activity: SimActivity } | { error: string };
}

export interface StravaFaults {
  /** The next n API calls answer 500 (after counting against the limits, like Strava). */
  fail5xx: number;
  /** Extra processing time for uploads. */
  slowProcessingMs: number;
  /** Every token of the athlete is refused (the athlete revoked the app). */
  revoked: boolean;
  /** Reject the next upload with a processing error. */
  corruptNext: number;
}

const ATHLETE_ID = 4242;
const RATE_BODY = JSON.stringify({
  message: 'Rate Limit Exceeded',
  errors: [{ resource: 'Application', field: 'rate limit', code: 'exceeded' }],
});
const AUTH_BODY = JSON.stringify({
  message: 'Authorization Error',
  errors: [{ resource: 'Athlete', field: 'access_token', code: 'invalid' }],
});

export interface StravaSimulator {
  baseUrl: string;
  apiBaseUrl: string;
  oauthBaseUrl: string;
  clientId: string;
  clientSecret: string;
  faults: StravaFaults;
  activities(): SimActivity[];
  /** Activities created per external_id (exactly-once check). */
  countByExternalId(): Map<string, number>;
  http429(): number;
  calls(): { method: string; path: string; at: number; status: number }[];
  /** The highest usage seen in any 15-minute and daily window, per bucket. */
  peakUsage(): { overall15: number; overallDay: number; read15: number; readDay: number };
  limits: WindowLimits;
  refreshes(): number;
  close(): Promise<void>;
}

export async function startStravaSimulator(o: StravaSimOptions = {}): Promise<StravaSimulator> {
  const clock = o.clock ?? { now: () => Date.now() };
  const limits: WindowLimits = o.limits ?? {
    overall: [200, 2000],
    read: [100, 1000],
  };
  const windows = new RateWindows(limits);
  const tokenTtl = o.tokenTtlMs ?? 6 * 3_600_000;
  const processingMs = o.processingMs ?? 2_000;
  const clientId = String(100_000 + Math.floor(Math.random() * 899_999));
  const clientSecret = randomBytes(20).toString('hex');
  const faults: StravaFaults = { fail5xx: 0, slowProcessingMs: 0, revoked: false, corruptNext: 0 };
  const codes = new Map<string, { scope: string; expiresAt: number }>();
  const access = new Map<string, number>(); // token → expiresAt
  let refreshToken: string | undefined;
  let refreshCount = 0;
  let nextId = 9_000_000_000;
  const acts: SimActivity[] = (o.existing ?? []).map((a) => ({ ...a }));
  const uploads = new Map<number, Upload>();
  const log: { method: string; path: string; at: number; status: number }[] = [];
  let n429 = 0;

  const send = (res: ServerResponse, status: number, body: unknown, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  const issueTokens = (scope: string) => {
    const accessToken = randomBytes(20).toString('hex');
    refreshToken = randomBytes(20).toString('hex'); // rotates: the previous one is dead
    const expiresAt = clock.now() + tokenTtl;
    access.set(accessToken, expiresAt);
    return {
      token_type: 'Bearer',
      access_token: accessToken,
      refresh_token: refreshToken,
      expires_at: Math.floor(expiresAt / 1000),
      expires_in: Math.floor(tokenTtl / 1000),
      scope,
      athlete: { id: ATHLETE_ID, username: 'sim', firstname: 'Sim', lastname: 'Athlete' },
    };
  };

  const readBody = async (req: IncomingMessage): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };

  const formOf = async (
    req: IncomingMessage,
    body: Buffer,
  ): Promise<FormData | URLSearchParams> => {
    const ct = req.headers['content-type'] ?? '';
    if (ct.startsWith('multipart/form-data')) {
      return new Request('http://sim/', {
        method: 'POST',
        headers: { 'content-type': ct },
        body: new Uint8Array(body),
      }).formData();
    }
    if (ct.startsWith('application/json')) {
      const j = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      return new URLSearchParams(
        Object.entries(j).map(([k, v]): [string, string] => [k, String(v)]),
      );
    }
    return new URLSearchParams(body.toString('utf8'));
  };

  const str = (f: FormData | URLSearchParams, k: string): string | undefined => {
    const v = f.get(k);
    return typeof v === 'string' ? v : undefined;
  };

  const oauth = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (url.pathname === '/oauth/authorize' && req.method === 'GET') {
      const redirect = url.searchParams.get('redirect_uri');
      const state = url.searchParams.get('state') ?? '';
      if (url.searchParams.get('client_id') !== clientId || !redirect) {
        return send(res, 400, { message: 'Bad Request', errors: [{ field: 'client_id' }] });
      }
      const scope = url.searchParams.get('scope') ?? 'read';
      const code = randomBytes(16).toString('hex');
      codes.set(code, { scope, expiresAt: clock.now() + 600_000 });
      const to = new URL(redirect);
      to.searchParams.set('state', state);
      to.searchParams.set('code', code);
      to.searchParams.set('scope', scope);
      res.writeHead(302, { location: to.toString() });
      return res.end();
    }
    if (url.pathname === '/oauth/token' && req.method === 'POST') {
      const f = await formOf(req, await readBody(req));
      if (str(f, 'client_id') !== clientId || str(f, 'client_secret') !== clientSecret) {
        return send(res, 401, { message: 'Bad Request', errors: [{ field: 'client_secret' }] });
      }
      const grant = str(f, 'grant_type');
      if (grant === 'authorization_code') {
        const c = codes.get(str(f, 'code') ?? '');
        codes.delete(str(f, 'code') ?? '');
        if (!c || c.expiresAt < clock.now()) {
          return send(res, 400, { message: 'Bad Request', errors: [{ field: 'code' }] });
        }
        faults.revoked = false;
        return send(res, 200, issueTokens(c.scope));
      }
      if (grant === 'refresh_token') {
        if (faults.revoked || !refreshToken || str(f, 'refresh_token') !== refreshToken) {
          return send(res, 400, { message: 'Bad Request', errors: [{ field: 'refresh_token' }] });
        }
        refreshCount++;
        const { athlete: _a, ...t } = issueTokens('activity:write,read');
        return send(res, 200, t);
      }
      return send(res, 400, { message: 'Bad Request', errors: [{ field: 'grant_type' }] });
    }
    send(res, 404, { message: 'Record Not Found' });
  };

  const uploadStatus = (u: Upload) => {
    const now = clock.now();
    const base = { id: u.id, id_str: String(u.id), external_id: u.external_id };
    if (now < u.readyAt) {
      return {
        ...base,
        error: null,
        status: 'Your activity is still being processed.',
        activity_id: null,
      };
    }
    if ('error' in u.outcome) {
      return {
        ...base,
        error: u.outcome.error,
        status: 'There was an error processing your activity.',
        activity_id: null,
      };
    }
    if (!acts.includes(u.outcome.activity)) acts.push(u.outcome.activity);
    return {
      ...base,
      error: null,
      status: 'Your activity is ready.',
      activity_id: u.outcome.activity.id,
    };
  };

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const path = url.pathname.replace(/^\/api\/v3/, '');
    const isUploadClass = req.method === 'POST' && (path === '/uploads' || path === '/activities');
    const now = clock.now();
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const exp = auth === undefined ? undefined : access.get(auth);
    if (faults.revoked || exp === undefined || exp <= now) return send(res, 401, AUTH_BODY);
    // Every request counts, refused ones too (Strava: over-limit requests still count).
    const verdict = windows.take(now, isUploadClass ? 'upload' : 'read');
    const headers = windows.headers(now);
    if (!verdict.ok) {
      n429++;
      return send(res, 429, RATE_BODY, headers);
    }
    if (faults.fail5xx > 0) {
      faults.fail5xx--;
      return send(res, 500, { message: 'Internal Server Error' }, headers);
    }
    if (path === '/uploads' && req.method === 'POST') {
      const f = await formOf(req, await readBody(req));
      const file = f.get('file');
      const dataType = str(f, 'data_type') ?? '';
      if (!(file instanceof Blob) || !/^(fit|tcx|gpx)(\.gz)?$/.test(dataType)) {
        return send(
          res,
          400,
          { message: 'Bad Request', errors: [{ field: 'data_type' }] },
          headers,
        );
      }
      let bytes = Buffer.from(await file.arrayBuffer());
      if (dataType.endsWith('.gz')) bytes = gunzipSync(bytes);
      const digest = createHash('sha256').update(bytes).digest('hex');
      const externalId = str(f, 'external_id') ?? null;
      const id = nextId++;
      const priorAct = [...uploads.values()]
        .map((u) =>
          'activity' in u.outcome
            ? (u.outcome.activity as SimActivity & { digest?: string })
            : undefined,
        )
        .find(
          (a) =>
            a !== undefined &&
            ((externalId !== null && a.external_id === externalId) || a.digest === digest),
        );
      let outcome: Upload['outcome'];
      if (priorAct) {
        const fname = typeof (file as File).name === 'string' ? (file as File).name : 'upload';
        outcome = { error: `${fname} duplicate of activity ${priorAct.id}` };
      } else if (faults.corruptNext > 0) {
        faults.corruptNext--;
        outcome = { error: 'Improperly formatted data.' };
      } else {
        const meta = parseMeta(bytes, dataType);
        const act: SimActivity & { digest: string } = {
          id: nextId++,
          name: str(f, 'name') ?? 'Activity',
          description: str(f, 'description'),
          sport_type: meta.sport,
          start_date: meta.start,
          start_date_local: meta.start.replace(/Z$/, 'Z'),
          elapsed_time: meta.elapsed,
          distance: meta.distance,
          external_id: externalId,
          upload_id: id,
          trainer: str(f, 'trainer') === '1' || str(f, 'trainer') === 'true',
          manual: false,
          digest,
        };
        outcome = { activity: act };
      }
      const u: Upload = {
        id,
        external_id: externalId,
        readyAt: now + processingMs + faults.slowProcessingMs,
        outcome,
      };
      uploads.set(id, u);
      return send(res, 201, uploadStatus(u), headers);
    }
    const um = /^\/uploads\/(\d+)$/.exec(path);
    if (um && req.method === 'GET') {
      const u = uploads.get(Number(um[1]));
      if (!u) return send(res, 404, { message: 'Record Not Found' }, headers);
      return send(res, 200, uploadStatus(u), headers);
    }
    if (path === '/activities' && req.method === 'POST') {
      const f = await formOf(req, await readBody(req));
      const name = str(f, 'name');
      const sport = str(f, 'sport_type') ?? str(f, 'type');
      const startLocal = str(f, 'start_date_local');
      const elapsed = Number(str(f, 'elapsed_time'));
      if (!name || !sport || !startLocal || !(elapsed > 0)) {
        return send(res, 400, { message: 'Bad Request', errors: [{ code: 'invalid' }] }, headers);
      }
      const act: SimActivity = {
        id: nextId++,
        name,
        sport_type: sport,
        start_date: new Date(Date.parse(startLocal.endsWith('Z') ? startLocal : `${startLocal}Z`))
          .toISOString()
          .replace('.000Z', 'Z'),
        start_date_local: startLocal,
        elapsed_time: elapsed,
        distance: Number(str(f, 'distance') ?? 0),
        description: str(f, 'description'),
        trainer: str(f, 'trainer') === '1',
        external_id: null,
        manual: true,
      };
      acts.push(act);
      return send(res, 201, act, headers);
    }
    if (path === '/athlete/activities' && req.method === 'GET') {
      const before = Number(url.searchParams.get('before') ?? Number.MAX_SAFE_INTEGER);
      const after = Number(url.searchParams.get('after') ?? 0);
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
      const per = Math.min(200, Math.max(1, Number(url.searchParams.get('per_page') ?? 30)));
      for (const u of uploads.values()) uploadStatus(u); // processed uploads become visible
      const sel = acts
        .filter((a) => {
          const t = Date.parse(a.start_date) / 1000;
          return t > after && t < before;
        })
        .sort((a, b) => Date.parse(b.start_date) - Date.parse(a.start_date));
      return send(res, 200, sel.slice((page - 1) * per, page * per), headers);
    }
    const am = /^\/activities\/(\d+)$/.exec(path);
    if (am && req.method === 'PUT') {
      const a = acts.find((x) => x.id === Number(am[1]));
      if (!a) return send(res, 404, { message: 'Record Not Found' }, headers);
      const f = await formOf(req, await readBody(req));
      const hide = str(f, 'hide_from_home');
      if (hide !== undefined) a.hide_from_home = hide === 'true';
      const sport = str(f, 'sport_type');
      if (sport) a.sport_type = sport;
      return send(res, 200, a, headers);
    }
    send(res, 404, { message: 'Record Not Found' }, headers);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const at = clock.now();
    res.on('finish', () =>
      log.push({ method: req.method ?? '', path: url.pathname, at, status: res.statusCode }),
    );
    const run = url.pathname.startsWith('/oauth/') ? oauth(req, res, url) : api(req, res, url);
    run.catch((e: unknown) => {
      if (!res.headersSent) send(res, 400, { message: 'Bad Request', detail: String(e) });
    });
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    apiBaseUrl: `${baseUrl}/api/v3`,
    oauthBaseUrl: `${baseUrl}/oauth`,
    clientId,
    clientSecret,
    faults,
    limits,
    activities: () => {
      for (const u of uploads.values()) uploadStatus(u);
      return acts.map(({ ...a }) => a);
    },
    countByExternalId: () => {
      for (const u of uploads.values()) uploadStatus(u);
      const m = new Map<string, number>();
      for (const a of acts)
        if (a.external_id) m.set(a.external_id, (m.get(a.external_id) ?? 0) + 1);
      return m;
    },
    http429: () => n429,
    calls: () => [...log],
    peakUsage: () => windows.peaks(),
    refreshes: () => refreshCount,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
