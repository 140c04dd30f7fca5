import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnsafeUriError } from '../../functions/core/errors.ts';
import {
  parseLimitReason,
  parseRetryAfter,
  rateLimitWaitUntil,
} from '../../functions/core/healthgraph/rate-limit.ts';
import {
  checkPageUri,
  commentsKey,
  derivedKey,
  docKey,
  parseItemUri,
  rawKey,
} from '../../functions/core/keys.ts';

const NOW = Date.UTC(2026, 0, 1);

describe('keys: hostile ids never become keys (B8)', () => {
  it('builds the public layout', () => {
    expect(rawKey('123', { feed: 'fitnessActivities', id: '456' })).toBe(
      'raw/123/fitnessActivities/456.json',
    );
    expect(docKey('123', 'profile')).toBe('raw/123/profile/latest.json');
    expect(commentsKey('123', '456')).toBe('raw/123/fitnessActivities/456.comments.json');
    expect(derivedKey('gpx', '123', { feed: 'fitnessActivities', id: '456' }, 'gpx')).toBe(
      'gpx/123/fitnessActivities/456.gpx',
    );
  });
  it.each([
    'https://evil.example/fitnessActivities/1',
    '//evil.example/fitnessActivities/1',
    '/fitnessActivities/../user',
    '/fitnessActivities/%2e%2e',
    '/fitnessActivities/1%2F2',
    '/fitnessActivities/abc',
    `/fitnessActivities/${'9'.repeat(21)}`,
    '/fitnessActivities/1?x=y',
    '/unknownFeed/1',
    '\\\\evil\\share',
    '',
  ])('rejects %j', (uri) => {
    expect(() => parseItemUri(uri)).toThrow(UnsafeUriError);
  });
  it('accepts an absolute URI only on the configured API host', () => {
    expect(
      parseItemUri('https://api.runkeeper.com/fitnessActivities/42', 'https://api.runkeeper.com'),
    ).toEqual({ feed: 'fitnessActivities', id: '42' });
    expect(() =>
      parseItemUri(
        'https://api.runkeeper.com.evil/fitnessActivities/42',
        'https://api.runkeeper.com',
      ),
    ).toThrow(UnsafeUriError);
    expect(() =>
      parseItemUri(
        'https://user:pw@api.runkeeper.com/fitnessActivities/42',
        'https://api.runkeeper.com',
      ),
    ).toThrow(UnsafeUriError);
  });
  it('page links stay on their feed', () => {
    expect(
      checkPageUri(
        '/fitnessActivities?page=1&pageSize=100&noEarlierThan=1970-01-01',
        '/fitnessActivities',
      ),
    ).toMatch(/^\/fitnessActivities\?/);
    expect(() => checkPageUri('/weight?page=1', '/fitnessActivities')).toThrow(UnsafeUriError);
    expect(() =>
      checkPageUri('/fitnessActivities?page=1&x=<script>', '/fitnessActivities'),
    ).toThrow(UnsafeUriError);
  });
  it('property: any string either parses to a numeric id under a known feed or is rejected', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          const ref = parseItemUri(s);
          expect(ref.id).toMatch(/^[0-9]{1,20}$/);
          expect(rawKey('1', ref)).not.toContain('..');
        } catch (e) {
          expect(e).toBeInstanceOf(UnsafeUriError);
        }
      }),
      { numRuns: 500 },
    );
  });
  it('user ids must be numeric', () => {
    expect(() => rawKey('../1', { feed: 'fitnessActivities', id: '1' })).toThrow(UnsafeUriError);
  });
});

describe('429 parsing (F2, F3)', () => {
  it('reads the limit from the reason text', () => {
    expect(
      parseLimitReason('Rate-limit exceeded. rate limit is 100 calls per 15 minutes for this user'),
    ).toEqual({ calls: 100, windowMs: 900_000, perUser: true });
    expect(parseLimitReason('rate limit is 5000 calls per 15 minutes')).toEqual({
      calls: 5000,
      windowMs: 900_000,
      perUser: false,
    });
    expect(parseLimitReason('rate limit is 300000 calls per days1')).toEqual({
      calls: 300000,
      windowMs: 86_400_000,
      perUser: false,
    });
    expect(parseLimitReason('slow down')).toBeUndefined();
  });
  it('Retry-After as seconds, HTTP-date, past date, garbage and absurd values', () => {
    expect(parseRetryAfter('120', NOW)).toBe(NOW + 120_000);
    expect(parseRetryAfter(new Date(NOW + 60_000).toUTCString(), NOW)).toBe(NOW + 60_000);
    expect(parseRetryAfter(new Date(NOW - 60_000).toUTCString(), NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('99999999', NOW)).toBe(NOW + 24 * 3_600_000);
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
  });
  it('without Retry-After, waits one named window (or the default)', () => {
    expect(
      rateLimitWaitUntil(null, 'rate limit is 10 calls per 1 minute', NOW, 900_000).waitUntil,
    ).toBe(NOW + 60_000);
    expect(rateLimitWaitUntil(null, undefined, NOW, 900_000).waitUntil).toBe(NOW + 900_000);
    expect(
      rateLimitWaitUntil('5', 'rate limit is 10 calls per 1 minute', NOW, 900_000).waitUntil,
    ).toBe(NOW + 5_000);
  });
});
