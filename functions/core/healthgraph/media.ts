/**
 * Activity photos: `images[]` entries carry absolute URLs of a content host (not the API),
 * so no bearer token is ever attached and no API budget is spent. Only allowed origins are
 * fetched (https by default), with a size cap and a timeout.
 */
import { InvalidPayloadError, UnsafeUriError } from '../errors.ts';
import { type FetchFn, httpRequest } from './http.ts';

export interface MediaConfig {
  /** Origins allowed besides any https URL, e.g. the simulator's loopback origin. */
  extraOrigins?: string[];
  /** Refuse https too and allow only `extraOrigins` (tests). */
  onlyExtraOrigins?: boolean;
  maxBytes?: number;
  timeoutMs?: number;
  fetch?: FetchFn;
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
  return u;
}

export async function fetchMedia(raw: string, cfg: MediaConfig = {}): Promise<Media> {
  const u = checkMediaUrl(raw, cfg);
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
