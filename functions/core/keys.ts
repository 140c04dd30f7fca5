/**
 * Untrusted URIs and the storage key layout.
 *
 * Every URI that comes from an API payload is checked here before it is requested or
 * turned into a key: only relative API paths of known shapes pass, so the bearer token
 * is never sent to another host and a hostile id never becomes a path (H4, B8).
 *
 * Key layout (a public contract shared by the S3 bucket and the local data directory):
 *   raw/{userId}/{feed}/{id}.json          raw API document of one item
 *   raw/{userId}/{doc}/latest.json         singleton documents (profile, settings, records)
 */
import { UnsafeUriError } from './errors.ts';

/** Feeds whose items are fetched one by one, keyed by the `/user` field that names them. */
export const FEEDS = {
  fitness_activities: 'fitnessActivities',
  strength_training_activities: 'strengthTrainingActivities',
  background_activities: 'backgroundActivities',
  sleep: 'sleep',
  nutrition: 'nutrition',
  weight: 'weight',
  general_measurements: 'generalMeasurements',
  diabetes: 'diabetes',
} as const;
export type FeedField = keyof typeof FEEDS;
export type FeedName = (typeof FEEDS)[FeedField];
export const FEED_NAMES = Object.values(FEEDS) as FeedName[];

/** Singleton documents stored whole. */
export const DOCS = { profile: 'profile', settings: 'settings', records: 'records' } as const;
export type DocName = (typeof DOCS)[keyof typeof DOCS];

const FEED_RE = FEED_NAMES.join('|');
const ITEM_URI = new RegExp(`^/(${FEED_RE})/([0-9]{1,20})$`);
const COMMENTS_URI = /^\/fitnessActivities\/([0-9]{1,20})\/comments$/;
const PATH_URI = /^\/[A-Za-z]{1,64}$/;
const QUERY_SAFE = /^[A-Za-z0-9=&_.%:+-]*$/;
const USER_ID = /^[0-9]{1,20}$/;
const ID = /^[0-9]{1,20}$/;

export interface ItemRef {
  feed: FeedName;
  id: string;
}

function relativise(uri: string, apiBase?: string): string {
  if (typeof uri !== 'string' || uri.length === 0 || uri.length > 2048) {
    throw new UnsafeUriError('URI missing or too long');
  }
  if (uri.startsWith('/') && !uri.startsWith('//') && !uri.includes('\\')) return uri;
  // An absolute URI is accepted only when it points at the configured API host.
  if (apiBase) {
    let u: URL;
    try {
      u = new URL(uri);
    } catch {
      throw new UnsafeUriError('URI is neither relative nor a valid URL');
    }
    const base = new URL(apiBase);
    if (u.origin === base.origin && u.username === '' && u.password === '') {
      return `${u.pathname}${u.search}`;
    }
  }
  throw new UnsafeUriError('URI is not a relative API path');
}

/** `/fitnessActivities/123` → { feed, id }; anything else throws UnsafeUriError. */
export function parseItemUri(uri: string, apiBase?: string): ItemRef {
  const rel = relativise(uri, apiBase);
  const m = ITEM_URI.exec(rel);
  if (!m) throw new UnsafeUriError('item URI does not match a known feed and numeric id');
  return { feed: m[1] as FeedName, id: m[2]! };
}

export function itemUri(ref: ItemRef): string {
  assertId(ref.id);
  if (!FEED_NAMES.includes(ref.feed)) throw new UnsafeUriError('unknown feed');
  return `/${ref.feed}/${ref.id}`;
}

export function commentsUri(activityId: string): string {
  assertId(activityId);
  return `/fitnessActivities/${activityId}/comments`;
}

export function isCommentsUri(uri: string): boolean {
  return COMMENTS_URI.test(uri);
}

/** A resource path from `/user` (e.g. `/fitnessActivities`): one plain path segment. */
export function checkResourcePath(uri: string, apiBase?: string): string {
  const rel = relativise(uri, apiBase);
  if (!PATH_URI.test(rel)) throw new UnsafeUriError('resource path has an unexpected shape');
  return rel;
}

/**
 * A `next` link of a feed: must stay on the same feed path and carry only plain query
 * characters. Returned relative, ready to request verbatim.
 */
export function checkPageUri(uri: string, feedPath: string, apiBase?: string): string {
  const rel = relativise(uri, apiBase);
  const q = rel.indexOf('?');
  const path = q < 0 ? rel : rel.slice(0, q);
  const query = q < 0 ? '' : rel.slice(q + 1);
  if (path !== feedPath && path !== `${feedPath}/`) {
    throw new UnsafeUriError('page link leaves its feed');
  }
  if (!QUERY_SAFE.test(query)) throw new UnsafeUriError('page link has unexpected characters');
  return rel;
}

export function assertUserId(userId: string): string {
  if (!USER_ID.test(userId)) throw new UnsafeUriError('user id is not numeric');
  return userId;
}

export function assertId(id: string): string {
  if (!ID.test(id)) throw new UnsafeUriError('item id is not numeric');
  return id;
}

/** raw/{userId}/{feed}/{id}.json */
export function rawKey(userId: string, ref: ItemRef): string {
  return `raw/${assertUserId(userId)}/${itemUri(ref).slice(1)}.json`;
}

/** raw/{userId}/{doc}/latest.json */
export function docKey(userId: string, doc: DocName): string {
  if (!Object.values(DOCS).includes(doc)) throw new UnsafeUriError('unknown document');
  return `raw/${assertUserId(userId)}/${doc}/latest.json`;
}

/** raw/{userId}/fitnessActivities/{id}.comments.json */
export function commentsKey(userId: string, activityId: string): string {
  return `raw/${assertUserId(userId)}/fitnessActivities/${assertId(activityId)}.comments.json`;
}

/** Derived files live beside the raw ones: {kind}/{userId}/{feed}/{id}.{ext} */
export function derivedKey(kind: string, userId: string, ref: ItemRef, ext: string): string {
  if (!/^[a-z0-9]{1,16}$/.test(kind) || !/^[a-z0-9.]{1,16}$/.test(ext)) {
    throw new UnsafeUriError('bad derived kind');
  }
  return `${kind}/${assertUserId(userId)}/${itemUri(ref).slice(1)}.${ext}`;
}
