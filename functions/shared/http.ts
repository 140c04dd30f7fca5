/**
 * The HTTP edge (API Gateway HTTP API, payload format 2.0): minimal event/result types,
 * query and cookie parsing, and the plain, escaped, no-store pages the OAuth endpoints answer.
 */
import { renderPage } from './pages.ts';

export interface HttpEvent {
  rawPath?: string;
  rawQueryString?: string;
  cookies?: string[];
  headers?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
  requestContext?: { domainName?: string; http?: { method?: string } };
}

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  cookies?: string[];
  body: string;
}

export interface LambdaContext {
  functionName?: string;
  awsRequestId?: string;
  getRemainingTimeInMillis?: () => number;
}

export const LINK_COOKIE = 'rk_link';
export const MAX_QUERY_CHARS = 16 * 1024;

/** Every query parameter with all its values, so `code=a&code=b` can be rejected. */
export function parseQuery(raw: string | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!raw) return out;
  for (const [k, v] of new URLSearchParams(raw)) {
    const list = out[k] ?? [];
    list.push(v);
    out[k] = list;
  }
  return out;
}

/** A cookie's value from `event.cookies` (HTTP API v2) or a Cookie header; undefined when
 *  absent or present more than once with different values. */
export function readCookie(event: HttpEvent, name: string): string | undefined {
  const parts = [
    ...(event.cookies ?? []),
    ...(event.headers?.cookie ?? event.headers?.Cookie ?? '').split(';'),
  ];
  const values = new Set<string>();
  for (const p of parts) {
    const i = p.indexOf('=');
    if (i < 0) continue;
    if (p.slice(0, i).trim() === name) values.add(p.slice(i + 1).trim());
  }
  return values.size === 1 ? [...values][0] : undefined;
}

export { escapeHtml } from './pages.ts';

/** Headers for every OAuth response: nothing cached, no Referer leaks, no active content. */
export const SECURITY_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/** A self-contained page (functions/shared/pages.ts): no scripts, no third-party resources,
 *  every text escaped; the tone follows the status code. */
export function htmlPage(
  statusCode: number,
  title: string,
  message: string,
  cookies?: string[],
  next?: readonly string[],
): HttpResult {
  const body = renderPage({ title, message, tone: statusCode < 400 ? 'ok' : 'problem', next });
  return {
    statusCode,
    headers: { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS },
    ...(cookies ? { cookies } : {}),
    body,
  };
}

export function linkCookie(value: string, maxAgeSeconds: number): string {
  return `${LINK_COOKIE}=${value}; HttpOnly; Secure; SameSite=Lax; Path=/callback; Max-Age=${maxAgeSeconds}`;
}

export const CLEAR_LINK_COOKIE = `${LINK_COOKIE}=; HttpOnly; Secure; SameSite=Lax; Path=/callback; Max-Age=0`;

/** The redirect URI: configured, or derived from the API's own domain (set by API Gateway). */
export function redirectUriFor(configured: string | undefined, event: HttpEvent): string {
  if (configured) return configured;
  const domain = event.requestContext?.domainName;
  if (!domain || !/^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$/.test(domain)) {
    throw new Error('no redirect URI configured and no API domain in the request context');
  }
  return `https://${domain}/callback`;
}

export function requestBody(event: HttpEvent): string {
  if (event.body === undefined) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}
