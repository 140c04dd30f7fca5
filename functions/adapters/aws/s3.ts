/**
 * The archive bucket as an ObjectStore. Encryption comes from the bucket's default
 * (SSE-KMS with a bucket key); versioning is on, so every distinct revision is kept.
 * `put` HEADs the key first and skips identical bytes (sha256 in the object metadata),
 * so a redelivered message adds no version.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { sha256Hex } from '../../core/hash.ts';
import type { ObjectStore, PutResult } from '../../core/ports.ts';

function isNotFound(e: unknown): boolean {
  const err = e as { name?: unknown; $metadata?: { httpStatusCode?: number } } | null;
  return (
    err?.name === 'NotFound' || err?.name === 'NoSuchKey' || err?.$metadata?.httpStatusCode === 404
  );
}

export class S3ObjectStore implements ObjectStore {
  readonly #s3: S3Client;
  readonly #bucket: string;
  constructor(s3: S3Client, bucket: string) {
    this.#s3 = s3;
    this.#bucket = bucket;
  }

  async #head(
    key: string,
  ): Promise<{ sha256?: string; versionId?: string; size: number } | undefined> {
    try {
      const h = await this.#s3.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return { sha256: h.Metadata?.sha256, versionId: h.VersionId, size: h.ContentLength ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<PutResult> {
    const sha256 = sha256Hex(body);
    const cur = await this.#head(key);
    if (cur?.sha256 === sha256) return { written: false, versionId: cur.versionId };
    const r = await this.#s3.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        Metadata: { sha256 },
      }),
    );
    return { written: true, versionId: r.VersionId };
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const r = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return r.Body ? await r.Body.transformToByteArray() : new Uint8Array();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async hash(key: string): Promise<string | undefined> {
    return (await this.#head(key))?.sha256;
  }

  /** One HEAD: the manifest's size and sha256 without downloading the object. */
  async stat(key: string): Promise<{ size: number; sha256?: string | undefined } | undefined> {
    const h = await this.#head(key);
    return h && { size: h.size, sha256: h.sha256 };
  }

  async *list(prefix: string): AsyncIterable<string> {
    let token: string | undefined;
    for (let page = 0; page < 100_000; page++) {
      const r = await this.#s3.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of r.Contents ?? []) if (o.Key) yield o.Key;
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
      if (!token) return;
    }
  }

  /** Deletes every version and delete marker under `prefix` (X7). Returns how many. */
  async purge(prefix: string): Promise<number> {
    if (!prefix.endsWith('/') || prefix.length < 3) throw new Error('purge needs a folder prefix');
    let n = 0;
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (let page = 0; page < 100_000; page++) {
      const r = await this.#s3.send(
        new ListObjectVersionsCommand({
          Bucket: this.#bucket,
          Prefix: prefix,
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
        }),
      );
      const objects = [...(r.Versions ?? []), ...(r.DeleteMarkers ?? [])]
        .filter((v) => v.Key)
        .map((v) => ({ Key: v.Key!, ...(v.VersionId ? { VersionId: v.VersionId } : {}) }));
      for (let i = 0; i < objects.length; i += 1000) {
        const chunk = objects.slice(i, i + 1000);
        const d = await this.#s3.send(
          new DeleteObjectsCommand({
            Bucket: this.#bucket,
            Delete: { Objects: chunk, Quiet: true },
          }),
        );
        if (d.Errors && d.Errors.length > 0) {
          throw new Error(`could not delete ${d.Errors.length} object versions`);
        }
        n += chunk.length;
      }
      if (!r.IsTruncated) return n;
      keyMarker = r.NextKeyMarker;
      versionMarker = r.NextVersionIdMarker;
    }
    return n;
  }
}
