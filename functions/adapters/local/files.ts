/**
 * Files under the data directory: the object store (same key layout as the S3 bucket)
 * and the credentials file.
 *
 * Every write is atomic (temp file in the same directory + fsync + rename + fsync of the
 * directory), so a crash or `kill -9` leaves either the old or the new bytes, never half.
 * Replacing a raw document keeps the previous revision under
 * `history/{key without .json}/{mtime}-{sha8}.json` (a hard link made before the rename,
 * so no moment exists where neither copy is on disk, and a retried write reuses the name).
 *
 * Private by default: GPS tracks, weight, sleep and diabetes data are for the owner only, so
 * directories are created 0700 and files 0600 whatever the umask or the data directory's mode.
 */
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { chmod, link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import type { ObjectStore, PutResult, TokenStore } from '../../core/ports.ts';
import { stateDir } from './db.ts';

/** A key that must not become a path (escapes the root, hidden, malformed). */
export class UnsafeKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeKeyError';
  }
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,127}$/;

/** Throws UnsafeKeyError unless `key` is a plain relative path of safe segments. */
export function assertSafeKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) {
    throw new UnsafeKeyError('storage key missing or too long');
  }
  if (key.includes('\0')) throw new UnsafeKeyError('storage key contains NUL');
  if (key.includes('\\')) throw new UnsafeKeyError('storage key contains a backslash');
  if (key.startsWith('/') || isAbsolute(key) || /^[A-Za-z]:/.test(key)) {
    throw new UnsafeKeyError('storage key is absolute');
  }
  for (const seg of key.split('/')) {
    if (seg === '..' || seg === '.') throw new UnsafeKeyError('storage key contains . or ..');
    if (!SEGMENT.test(seg)) throw new UnsafeKeyError('storage key has an unexpected segment');
  }
  return key;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a).equals(Buffer.from(b));
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** Modes of everything the data directory holds: readable by its owner only. */
export const PRIVATE_FILE = 0o600;
export const PRIVATE_DIR = 0o700;

/**
 * A warning when the data directory itself lets the group or others in (a directory made with
 * the usual umask is 0755): files are 0600 anyway, but names (activity ids, user id) show and
 * anything copied in by hand keeps its mode. Undefined when private or missing.
 */
export function dataDirExposure(dataDir: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(dataDir).mode & 0o777;
  } catch {
    return undefined;
  }
  if ((mode & 0o077) === 0) return undefined;
  const octal = mode.toString(8).padStart(3, '0');
  return `the data directory ${dataDir} is accessible to other users (mode ${octal}); make it private with: chmod 700 ${dataDir}`;
}

/** Write `bytes` to `path` atomically with `mode`; the temp file never outlives a failure. */
export async function atomicWrite(
  path: string,
  bytes: Uint8Array,
  mode = PRIVATE_FILE,
): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function stamp(ms: number): string {
  // 2026-01-01T12-00-00-123Z: sortable, no colons (portable file names).
  return new Date(ms).toISOString().replace(/[:.]/g, '-');
}

/** `history/raw/1/fitnessActivities/2/{stamp}-{sha8}.json` for `raw/1/fitnessActivities/2.json`. */
export function historyKey(key: string, mtimeMs: number, sha: string): string {
  const ext = extname(key) || '.json';
  const stem = key.endsWith(ext) ? key.slice(0, -ext.length) : key;
  return `history/${stem}/${stamp(mtimeMs)}-${sha.slice(0, 8)}${ext}`;
}

export interface FsObjectStoreOptions {
  /** Keys under these prefixes keep replaced revisions in history/ (default: raw documents). */
  historyPrefixes?: string[];
}

export class FsObjectStore implements ObjectStore {
  readonly root: string;
  readonly #historyPrefixes: string[];
  /** Files actually written (benchmarks, tests). */
  writes = 0;

  constructor(root: string, opts: FsObjectStoreOptions = {}) {
    this.root = resolve(root);
    this.#historyPrefixes = opts.historyPrefixes ?? ['raw/'];
  }

  /** The absolute path of a key; throws UnsafeKeyError for anything that could escape the root. */
  pathOf(key: string): string {
    assertSafeKey(key);
    const full = resolve(this.root, key);
    const rel = relative(this.root, full);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw new UnsafeKeyError('storage key escapes the data directory');
    }
    return full;
  }

  async put(key: string, body: Uint8Array, _contentType: string): Promise<PutResult> {
    const path = this.pathOf(key);
    const old = await readIfExists(path);
    if (old && sameBytes(old, body)) return { written: false };
    await mkdir(dirname(path), { recursive: true, mode: PRIVATE_DIR });
    if (old && this.#historyPrefixes.some((p) => key.startsWith(p))) {
      const st = await stat(path);
      const hk = historyKey(key, st.mtimeMs, sha256(old));
      const hpath = this.pathOf(hk);
      await mkdir(dirname(hpath), { recursive: true, mode: PRIVATE_DIR });
      try {
        await link(path, hpath);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') {
          // Same revision kept already (a retried write).
        } else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV') {
          await atomicWrite(hpath, old);
        } else {
          throw e;
        }
      }
    }
    await atomicWrite(path, body);
    this.writes++;
    return { written: true };
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const b = await readIfExists(this.pathOf(key));
    return b ? new Uint8Array(b) : undefined;
  }

  async hash(key: string): Promise<string | undefined> {
    const b = await readIfExists(this.pathOf(key));
    return b ? sha256(b) : undefined;
  }

  /** Keys under `prefix` (a key prefix, not necessarily a directory), sorted; hidden files skipped. */
  async *list(prefix: string): AsyncIterable<string> {
    if (prefix.includes('\0') || prefix.includes('\\') || prefix.split('/').includes('..')) {
      throw new UnsafeKeyError('list prefix is unsafe');
    }
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const start = base ? this.pathOf(base) : this.root;
    const keys: string[] = [];
    await walk(start, base, keys);
    keys.sort();
    for (const k of keys) if (k.startsWith(prefix)) yield k;
  }
}

async function walk(dir: string, keyBase: string, out: string[], depth = 0): Promise<void> {
  if (depth > 32) return;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw e;
  }
  for (const ent of entries) {
    // Hidden entries: temp files, the .rk-sync state directory.
    if (ent.name.startsWith('.')) continue;
    const key = keyBase ? `${keyBase}/${ent.name}` : ent.name;
    if (ent.isDirectory()) await walk(join(dir, ent.name), key, out, depth + 1);
    else if (ent.isFile()) out.push(key);
  }
}

// ---------------------------------------------------------------- credentials

interface CredentialsFile {
  version: 1;
  tokens: Record<string, string>;
}

/** A credentials file readable by its owner only (0600 in a 0700 directory). Never logged. */
export class FileTokenStore implements TokenStore {
  readonly path: string;
  constructor(dataDir: string) {
    this.path = join(stateDir(dataDir), 'credentials.json');
  }

  async #read(): Promise<CredentialsFile> {
    const b = await readIfExists(this.path);
    if (!b) return { version: 1, tokens: {} };
    let parsed: unknown;
    try {
      parsed = JSON.parse(b.toString('utf8'));
    } catch {
      throw new Error(`the credentials file ${this.path} is not valid JSON`);
    }
    const tokens = (parsed as { tokens?: unknown } | null)?.tokens;
    if (typeof tokens !== 'object' || tokens === null || Array.isArray(tokens)) {
      throw new Error(`the credentials file ${this.path} has an unexpected shape`);
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(tokens)) if (typeof v === 'string') out[k] = v;
    return { version: 1, tokens: out };
  }

  async #write(f: CredentialsFile): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    await atomicWrite(this.path, Buffer.from(`${JSON.stringify(f, null, 2)}\n`), 0o600);
    // The umask cannot widen 0600, but make it explicit for files replaced by hand.
    await chmod(this.path, 0o600);
  }

  async get(userId: string): Promise<string | undefined> {
    return (await this.#read()).tokens[userId];
  }

  async put(userId: string, token: string): Promise<void> {
    const f = await this.#read();
    f.tokens[userId] = token;
    await this.#write(f);
  }

  async delete(userId: string): Promise<void> {
    const f = await this.#read();
    if (!(userId in f.tokens)) return;
    delete f.tokens[userId];
    await this.#write(f);
  }
}
