/**
 * ZipSource adapters over yauzl (random access, entries read one at a time, sizes validated
 * while inflating): a local file, or any ranged reader (S3 GetObject with Range). Entry names
 * are decoded here and judged by the core (unsafe names are reported, not fatal), and every
 * entry's inflated output is capped.
 */
import { PassThrough, type Readable } from 'node:stream';
import yauzl from 'yauzl';
import type { ZipSource } from '../core/import/archive.ts';
import type { ZipEntry } from '../core/import/export-zip.ts';

type Opener = () => Promise<yauzl.ZipFile>;

const OPTIONS: yauzl.Options = {
  lazyEntries: true,
  autoClose: false,
  decodeStrings: false,
  validateEntrySizes: true,
};

function decodeName(entry: yauzl.Entry): string {
  const raw = entry.fileName as unknown as Buffer;
  // Bit 11: UTF-8 names; otherwise CP437, approximated by Latin-1 (names are only reported and sanitised).
  return (entry.generalPurposeBitFlag & 0x800) !== 0
    ? raw.toString('utf8')
    : raw.toString('latin1');
}

function readEntry(zf: yauzl.ZipFile, entry: yauzl.Entry, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    zf.openReadStream(entry, (err, stream) => {
      if (err || !stream) return reject(err ?? new Error('no stream'));
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          stream.destroy(new Error(`entry inflates past ${maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      stream.on('error', reject);
      stream.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    });
  });
}

function source(open: Opener, maxEntryBytes: number): ZipSource {
  return {
    async *entries(): AsyncGenerator<ZipEntry> {
      const zf = await open();
      try {
        for (;;) {
          const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
            const onEntry = (e: yauzl.Entry) => {
              cleanup();
              resolve(e);
            };
            const onEnd = () => {
              cleanup();
              resolve(undefined);
            };
            const onError = (e: Error) => {
              cleanup();
              reject(e);
            };
            const cleanup = () => {
              zf.off('entry', onEntry);
              zf.off('end', onEnd);
              zf.off('error', onError);
            };
            zf.on('entry', onEntry);
            zf.on('end', onEnd);
            zf.on('error', onError);
            zf.readEntry();
          });
          if (!entry) return;
          yield {
            name: decodeName(entry),
            size: entry.uncompressedSize,
            compressedSize: entry.compressedSize,
            read: () => readEntry(zf, entry, maxEntryBytes),
          };
        }
      } finally {
        zf.close();
      }
    },
  };
}

export function zipFromFile(path: string, maxEntryBytes = 256 * 1024 ** 2): ZipSource {
  return source(
    () =>
      new Promise((resolve, reject) =>
        yauzl.open(path, OPTIONS, (err, zf) =>
          err || !zf ? reject(err ?? new Error('not a ZIP')) : resolve(zf),
        ),
      ),
    maxEntryBytes,
  );
}

/** A ZIP read by byte ranges (e.g. S3 GetObject with Range): memory stays bounded. */
export function zipFromRanges(
  totalSize: number,
  readRange: (start: number, endExclusive: number) => Promise<Readable>,
  maxEntryBytes = 256 * 1024 ** 2,
): ZipSource {
  class RangeReader extends yauzl.RandomAccessReader {
    override _readStreamForRange(start: number, end: number): Readable {
      const out = new PassThrough();
      readRange(start, end).then(
        (s) => {
          s.on('error', (e) => out.destroy(e));
          s.pipe(out);
        },
        (e: Error) => out.destroy(e),
      );
      return out;
    }
  }
  return source(
    () =>
      new Promise((resolve, reject) =>
        yauzl.fromRandomAccessReader(new RangeReader(), totalSize, OPTIONS, (err, zf) =>
          err || !zf ? reject(err ?? new Error('not a ZIP')) : resolve(zf),
        ),
      ),
    maxEntryBytes,
  );
}
