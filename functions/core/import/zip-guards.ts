/** ZIP entry names and zip-bomb guards for the export import (pure; no I/O). */

/**
 * Checks a ZIP entry name. Rejects empty or over-long names, NUL and control characters,
 * backslashes, absolute paths, drive letters and `.`/`..` segments.
 */
export function safeEntryName(
  name: string,
): { ok: true; name: string } | { ok: false; reason: string } {
  if (typeof name !== 'string' || name.length === 0) return { ok: false, reason: 'empty name' };
  if (name.length > 1024) return { ok: false, reason: 'name too long' };
  if (/[\u0000-\u001f\u007f]/.test(name)) return { ok: false, reason: 'control character in name' };
  if (name.includes('\\')) return { ok: false, reason: 'backslash in name' };
  if (name.startsWith('/')) return { ok: false, reason: 'absolute path' };
  if (/^[A-Za-z]:/.test(name)) return { ok: false, reason: 'drive letter' };
  const parts = name.split('/');
  if (parts.some((p) => p === '..' || p === '.')) return { ok: false, reason: 'dot segment' };
  if (parts.slice(0, -1).some((p) => p === '')) return { ok: false, reason: 'empty segment' };
  return { ok: true, name };
}

export interface ZipLimits {
  /** Entries processed at most; the rest are reported once and ignored. */
  maxEntries: number;
  /** Total uncompressed bytes read at most. */
  maxTotalBytes: number;
  /** One entry's uncompressed size at most. */
  maxEntryBytes: number;
  /** Uncompressed/compressed ratio at most (checked for entries above `ratioMinBytes`). */
  maxRatio: number;
  ratioMinBytes: number;
  /**
   * Largest GPX parsed: a larger one is kept as an original and its activity imported without
   * a path (rendering a track takes ~30x its GPX size; BENCHMARKS.md section 7).
   */
  maxGpxBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: 50_000,
  maxTotalBytes: 2 * 1024 ** 3,
  maxEntryBytes: 256 * 1024 ** 2,
  maxRatio: 100,
  ratioMinBytes: 1024 * 1024,
  maxGpxBytes: 12 * 1024 ** 2,
};

/** Why an entry must not be read, judged from its declared sizes, or undefined when fine. */
export function checkEntrySize(
  size: number,
  compressedSize: number,
  totalSoFar: number,
  limits: ZipLimits,
): string | undefined {
  if (!Number.isFinite(size) || size < 0) return 'invalid declared size';
  if (size > limits.maxEntryBytes) return `entry larger than ${limits.maxEntryBytes} bytes`;
  if (totalSoFar + size > limits.maxTotalBytes) {
    return `total uncompressed size would exceed ${limits.maxTotalBytes} bytes`;
  }
  if (size >= limits.ratioMinBytes && size / Math.max(1, compressedSize) > limits.maxRatio) {
    return `compression ratio above ${limits.maxRatio}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// The whole ZIP

export interface ZipEntry {
  name: string;
  /** Declared uncompressed size. */
  size: number;
  compressedSize: number;
  read(): Promise<Uint8Array>;
}
