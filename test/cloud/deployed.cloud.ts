/**
 * Opt-in checks against a REAL deployed stack (what moto and the template cannot prove):
 * TLS-only and private bucket, owner-only /authorize (an invite even for the first link), the callback's bad-input handling and
 * headers, the de-authorisation callback's silence, API Gateway stage throttling (X1, X2, X6,
 * B1, B12). Not part of `npm test`. Run after `npm run deploy` with AWS credentials:
 *
 *   RK_CLOUD_OUTPUTS=cdk-outputs.json npm run test:cloud
 *
 * It never links an account and never touches data: it reads, and sends requests that must fail.
 */
import { readFileSync } from 'node:fs';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';

const file = process.env.RK_CLOUD_OUTPUTS;
if (!file)
  throw new Error('set RK_CLOUD_OUTPUTS to the cdk-outputs.json written by `npm run deploy`');
const all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
const out = Object.values(all)[0]!;
const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';

describe('deployed stack (cloud, opt-in)', () => {
  it('X6: the bucket refuses plain HTTP even with valid credentials (aws:SecureTransport deny)', async () => {
    const s3 = new S3Client({
      region,
      endpoint: `http://s3.${region}.amazonaws.com`,
      forcePathStyle: true,
    });
    await expect(
      s3.send(new ListObjectsV2Command({ Bucket: out.BucketName!, MaxKeys: 1 })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
    });
  });

  it('X6: the bucket is not public', async () => {
    const r = await fetch(`https://${out.BucketName}.s3.${region}.amazonaws.com/?list-type=2`);
    expect(r.status).toBe(403);
    const put = new S3Client({
      region,
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' },
    });
    await expect(
      put.send(
        new PutObjectCommand({
          Bucket: out.BucketName!,
          Key: 'raw/1/fitnessActivities/1.json',
          Body: '{}',
        }),
      ),
    ).rejects.toBeTruthy();
  });

  it('X1/X9: /authorize without an owner invite is refused, linked or not', async () => {
    const r = await fetch(out.AuthorizeUrl!, { redirect: 'manual' });
    expect(r.status).toBe(403);
    expect(r.headers.get('set-cookie')).toBeNull();
    expect(r.headers.get('cache-control')).toMatch(/no-store/);
  });

  it('B1/X2: /callback with a forged state answers a generic, uncached page', async () => {
    const r = await fetch(`${out.CallbackUrl}?state=${'A'.repeat(43)}&code=forged`, {
      redirect: 'manual',
    });
    expect([303, 400, 403]).toContain(r.status);
    expect(r.headers.get('cache-control')).toMatch(/no-store/);
    const body = r.status === 303 ? '' : await r.text();
    expect(body).not.toContain('forged');
  });

  it('B12: the de-authorisation callback answers 200 to garbage and says nothing', async () => {
    const r = await fetch(out.DeauthorizeUrl!, {
      method: 'POST',
      body: '{not json',
      headers: { 'content-type': 'application/json' },
    });
    expect(r.status).toBe(200);
  });

  it('X1: stage throttling answers 429 to a burst (burst 10, rate 5 per second)', async () => {
    const rs = await Promise.all(
      Array.from({ length: 40 }, () => fetch(out.DeauthorizeUrl!, { method: 'POST', body: '{}' })),
    );
    expect(rs.some((r) => r.status === 429)).toBe(true);
  });
});
