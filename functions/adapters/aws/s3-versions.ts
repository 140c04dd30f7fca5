/**
 * The archive bucket's version history as the VersionedObjects port (rk-sync restore).
 * ListObjectVersions (exact key only), HeadObject per version for the sha256 metadata the
 * fetcher writes, DeleteObject with a VersionId (removes a delete marker), CopyObject from a
 * version (metadata copied, the bucket's default encryption applies).
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectVersion, VersionedObjects } from '../../core/restore/plan.ts';

export class S3VersionedObjects implements VersionedObjects {
  readonly #s3: S3Client;
  readonly #bucket: string;
  constructor(s3: S3Client, bucket: string) {
    this.#s3 = s3;
    this.#bucket = bucket;
  }

  async versions(key: string): Promise<ObjectVersion[]> {
    const out: ObjectVersion[] = [];
    const markers: ObjectVersion[] = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const r = await this.#s3.send(
        new ListObjectVersionsCommand({
          Bucket: this.#bucket,
          Prefix: key,
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
        }),
      );
      for (const v of r.Versions ?? []) {
        if (v.Key !== key || !v.VersionId) continue;
        out.push({
          versionId: v.VersionId,
          deleteMarker: false,
          isLatest: v.IsLatest === true,
          lastModified: v.LastModified?.getTime() ?? 0,
        });
      }
      for (const m of r.DeleteMarkers ?? []) {
        if (m.Key !== key || !m.VersionId) continue;
        markers.push({
          versionId: m.VersionId,
          deleteMarker: true,
          isLatest: m.IsLatest === true,
          lastModified: m.LastModified?.getTime() ?? 0,
        });
      }
      if (!r.IsTruncated) break;
      keyMarker = r.NextKeyMarker;
      versionMarker = r.NextVersionIdMarker;
    }
    for (const v of out) {
      if (v.deleteMarker) continue;
      const h = await this.#s3.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: key, VersionId: v.versionId }),
      );
      v.sha256 = h.Metadata?.sha256;
    }
    // S3 lists each kind newest first.
    return [...out, ...markers];
  }

  async removeVersion(key: string, versionId: string): Promise<void> {
    await this.#s3.send(
      new DeleteObjectCommand({ Bucket: this.#bucket, Key: key, VersionId: versionId }),
    );
  }

  async copyVersion(key: string, versionId: string): Promise<string | undefined> {
    const source = `${this.#bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const r = await this.#s3.send(
      new CopyObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        CopySource: `${source}?versionId=${encodeURIComponent(versionId)}`,
        MetadataDirective: 'COPY',
      }),
    );
    return r.VersionId;
  }
}
