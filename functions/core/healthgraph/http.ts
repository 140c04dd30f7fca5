/**
 * One HTTP exchange with a per-call timeout, a response size cap enforced while
 * streaming, and charset-aware decoding. Network failures become TransientError.
 */
import { InvalidPayloadError, TransientError, UnreachableError } from '../errors.ts';

export type FetchFn = typeof fetch;

/** Connection errors that mean nobody answers at that address at all. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

export interface HttpResponse {
  status: number;
  headers: Headers;
  contentType: string;
  bytes: Uint8Array;
  /** Body decoded with the charset the response declares (UTF-8 by default). */
  text: () => string;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxBytes: number;
  fetch: FetchFn;
  signal?: AbortSignal | undefined;
}

export function charsetOf(contentType: string): string {
  const m = /charset\s*=\s*"?([A-Za-z0-9._-]+)"?/i.exec(contentType);
  const cs = (m?.[1] ?? 'utf-8').toLowerCase();
  return cs === 'iso-8859-1' || cs === 'latin1' ? 'windows-1252' : cs;
}

export function decode(bytes: Uint8Array, contentType: string): string {
  const decoder = (() => {
    try {
      return new TextDecoder(charsetOf(contentType));
    } catch {
      return new TextDecoder('utf-8');
    }
  })();
  return decoder.decode(bytes);
}

export async function httpRequest(url: string, o: HttpOptions): Promise<HttpResponse> {
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([timeout, o.signal]) : timeout;
  let res: Response;
  try {
    res = await o.fetch(url, {
      method: o.method ?? 'GET',
      headers: o.headers,
      body: o.body,
      signal,
      redirect: 'manual',
    });
  } catch (e) {
    if (o.signal?.aborted) throw o.signal.reason;
    // The address tried (origin only: paths carry ids, never shown) and the system's reason.
    const origin = URL.canParse(url) ? new URL(url).origin : 'the API';
    if (timeout.aborted) {
      throw new TransientError(`${origin} did not answer within ${o.timeoutMs} ms`, undefined, {
        cause: e,
      });
    }
    const cause = (e as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
    const reason =
      typeof cause?.code === 'string'
        ? cause.code
        : typeof cause?.message === 'string'
          ? cause.message.slice(0, 80)
          : 'no answer';
    if (UNREACHABLE.has(reason)) {
      throw new UnreachableError(`cannot reach ${origin} (${reason})`, undefined, { cause: e });
    }
    throw new TransientError(`network error talking to ${origin} (${reason})`, undefined, {
      cause: e,
    });
  }
  const contentType = res.headers.get('content-type') ?? '';
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > o.maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new InvalidPayloadError(
      `response of ${declared} bytes exceeds the ${o.maxBytes} byte cap`,
      '',
      res.status,
    );
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > o.maxBytes) {
          await res.body.cancel().catch(() => {});
          throw new InvalidPayloadError(
            `response exceeds the ${o.maxBytes} byte cap`,
            '',
            res.status,
          );
        }
        chunks.push(chunk);
      }
    }
  } catch (e) {
    if (e instanceof InvalidPayloadError) throw e;
    if (o.signal?.aborted) throw o.signal.reason;
    throw new TransientError(
      timeout.aborted
        ? `response body timed out after ${o.timeoutMs} ms`
        : 'connection reset while reading body',
      res.status,
      { cause: e },
    );
  }
  const bytes = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.byteLength;
  }
  return {
    status: res.status,
    headers: res.headers,
    contentType,
    bytes,
    text: () => decode(bytes, contentType),
  };
}
