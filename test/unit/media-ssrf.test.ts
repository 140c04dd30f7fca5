/**
 * X13 (issue #12): photo URLs come from the API payload. Before the fix any https host was
 * fetched, including 169.254.169.254 (cloud metadata), loopback and private ranges. Now an IP
 * literal or every address a name resolves to must be public; nothing else is requested.
 * The fetch is a recording stub and DNS is injected: no test traffic leaves the process.
 */
import { describe, expect, it } from 'vitest';
import { UnsafeUriError } from '../../functions/core/errors.ts';
import { checkMediaUrl, fetchMedia } from '../../functions/core/healthgraph/media.ts';
import { isNonPublicAddress } from '../../functions/core/healthgraph/public-host.ts';

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);

function world(dns: Record<string, string[]>) {
  const requested: string[] = [];
  const fetchStub = (async (input: string | URL | Request) => {
    requested.push(String(input));
    return new Response(JPEG, { status: 200, headers: { 'content-type': 'image/jpeg' } });
  }) as typeof fetch;
  const lookup = async (host: string) => {
    const a = dns[host];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return a.map((address) => ({ address }));
  };
  return { requested, cfg: { fetch: fetchStub, lookup } };
}

describe('X13: photo URLs reach public hosts only', () => {
  it('refuses non-public IP literals in every spelling, without a request', async () => {
    const w = world({});
    for (const url of [
      'https://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'https://127.0.0.1/x.jpg',
      'https://2130706433/x.jpg', // 127.0.0.1 as one decimal number
      'https://0x7f.1/x.jpg',
      'https://10.1.2.3/x.jpg',
      'https://172.16.0.1/x.jpg',
      'https://192.168.1.1/x.jpg',
      'https://100.64.0.1/x.jpg',
      'https://0.0.0.0/x.jpg',
      'https://[::1]/x.jpg',
      'https://[::ffff:169.254.169.254]/x.jpg',
      'https://[fd00:ec2::254]/x.jpg',
      'https://[fe80::1]/x.jpg',
    ]) {
      expect(() => checkMediaUrl(url, {}), url).toThrow(UnsafeUriError);
      await expect(fetchMedia(url, w.cfg), url).rejects.toBeInstanceOf(UnsafeUriError);
    }
    expect(w.requested).toEqual([]);
  });

  it('refuses names that resolve to a non-public address (any of them), or do not resolve', async () => {
    const w = world({
      'metadata.attacker.example': ['169.254.169.254'],
      'mixed.attacker.example': ['93.184.215.14', '10.0.0.5'],
      'v6.attacker.example': ['::1'],
    });
    for (const url of [
      'https://metadata.attacker.example/x.jpg',
      'https://mixed.attacker.example/x.jpg',
      'https://v6.attacker.example/x.jpg',
      'https://nxdomain.attacker.example/x.jpg',
      'https://localhost/x.jpg',
      'https://intranet/x.jpg',
    ]) {
      await expect(fetchMedia(url, w.cfg), url).rejects.toBeInstanceOf(UnsafeUriError);
    }
    expect(w.requested).toEqual([]);
  });

  it('fetches a photo from a public content host', async () => {
    const w = world({ 'photos.runkeeper.example': ['93.184.215.14', '2606:2800:21f:cb07::1'] });
    const m = await fetchMedia('https://photos.runkeeper.example/a/b.jpg', w.cfg);
    expect(m).toMatchObject({ contentType: 'image/jpeg', ext: 'jpg' });
    expect(w.requested).toEqual(['https://photos.runkeeper.example/a/b.jpg']);
  });

  it('classifies addresses by the special-purpose ranges', () => {
    for (const a of ['127.0.0.1', '169.254.169.254', '10.0.0.1', '192.168.0.1', '::1', 'fc00::1'])
      expect(isNonPublicAddress(a), a).toBe(true);
    for (const a of ['93.184.215.14', '8.8.8.8', '2606:2800:21f:cb07::1'])
      expect(isNonPublicAddress(a), a).toBe(false);
    expect(isNonPublicAddress('not-an-ip')).toBe(true);
  });
});
