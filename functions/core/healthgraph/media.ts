/**
 * Activity photos: `images[]` entries carry absolute URLs of a content host (not the API),
 * so no bearer token is ever attached and no API budget is spent. Only https URLs whose host
 * is, and resolves only to, a public address are fetched (never loopback, private ranges or
 * 169.254.169.254), no redirect is followed, with a size cap and a timeout. Explicitly
 * configured `extraOrigins` (the simulator in tests) are the only exception.
 */
import { isIP } from 'node:net';
import { InvalidPayloadError, UnsafeUriError } from '../errors.ts';
import { type FetchFn, httpRequest } from './http.ts';
import { assertPublicHost, isNonPublicAddress, type LookupFn } from './public-host.ts';

export interface MediaConfig {
  /** Origins allowed besides any https URL, e.g. the simulator's loopback origin. */
  extraOrigins?: string[];
  /** Refuse https too and allow only `extraOrigins` (tests). */
  onlyExtraOrigins?: boolean;
  maxBytes?: number;
  timeoutMs?: number;
  fetch?: FetchFn;
  /** DNS resolution for the public-address check (default: the system resolver). */
  lookup?: LookupFn;
}

export interface Media {
  bytes: Uint8Array;
  contentType: string;
  ext: string;
}

const EXT: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/heic': 'heic',
};

export function checkMediaUrl(raw: string, cfg: MediaConfig): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UnsafeUriError('image URL is not absolute');
  }
  if (u.username || u.password) throw new UnsafeUriError('image URL carries credentials');
  const extra = (cfg.extraOrigins ?? []).includes(u.origin);
  if (!extra && (cfg.onlyExtraOrigins || u.protocol !== 'https:')) {
    throw new UnsafeUriError('image URL origin is not allowed');
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  if (!extra && isIP(host) && isNonPublicAddress(host)) {
    throw new UnsafeUriError('image host is not a public address');
  }
  return u;
}

export async function fetchMedia(raw: string, cfg: MediaConfig = {}): Promise<Media> {
  const u = checkMediaUrl(raw, cfg);
  if (!(cfg.extraOrigins ?? []).includes(u.origin)) await assertPublicHost(u.hostname, cfg.lookup);
  const res = await httpRequest(u.toString(), {
    headers: { Accept: 'image/*' },
    timeoutMs: cfg.timeoutMs ?? 20_000,
    maxBytes: cfg.maxBytes ?? 25 * 1024 * 1024,
    fetch: cfg.fetch ?? fetch,
  });
  if (res.status !== 200)
    throw new InvalidPayloadError(`image answered ${res.status}`, '', res.status);
  const type = res.contentType.split(';')[0]!.trim().toLowerCase();
  return {
    bytes: res.bytes,
    contentType: type || 'application/octet-stream',
    ext: EXT[type] ?? 'bin',
  };
}
