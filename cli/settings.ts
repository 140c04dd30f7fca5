/**
 * Settings: built-in defaults < config file (`--config`) < command-line options.
 * A config file that cannot be read or does not validate is a usage error (exit 2).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { baseUrlProblem } from '../functions/core/base-url.ts';
import { FEED_NAMES, type FeedName } from '../functions/core/keys.ts';
import { CliError, EXIT } from './errors.ts';

export const DEFAULTS = {
  dataDir: './rk-data',
  apiBaseUrl: 'https://api.runkeeper.com',
  authBaseUrl: 'https://runkeeper.com',
  port: 8973,
  rateLimit: 100,
  rateWindowSeconds: 900,
} as const;

const httpUrl = z
  .string()
  .url()
  .superRefine((u, ctx) => {
    const problem = baseUrlProblem(u);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const ConfigFileSchema = z
  .object({
    clientId: z.string().min(1).max(200).optional(),
    apiBaseUrl: httpUrl.optional(),
    authBaseUrl: httpUrl.optional(),
    dataDir: z.string().min(1).optional(),
    port: z.number().int().min(0).max(65535).optional(),
    rateLimit: z
      .union([
        z.number().int().min(1).max(100_000),
        z
          .object({
            calls: z.number().int().min(1).max(100_000),
            windowSeconds: z.number().positive().max(86_400),
          })
          .strict(),
      ])
      .optional(),
    rateWindow: z.number().positive().max(86_400).optional(),
    feeds: z.union([z.string(), z.array(z.string())]).optional(),
    comments: z.boolean().optional(),
  })
  .strict();
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

/** Read and validate a config file; relative `dataDir` is resolved against the file's folder. */
export function loadConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new CliError(`cannot read config file ${path} (${code})`, EXIT.usage);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`config file ${path} is not valid JSON`, EXIT.usage);
  }
  const r = ConfigFileSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(top level)';
    throw new CliError(
      `config file ${path} is invalid: ${where}: ${issue?.message ?? 'invalid'}`,
      EXIT.usage,
    );
  }
  const cfg = r.data;
  if (cfg.dataDir) cfg.dataDir = resolve(dirname(resolve(path)), cfg.dataDir);
  return cfg;
}

// ---------------------------------------------------------------- option parsers (commander)

export function intOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`must be an integer >= ${min}`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max}`);
    return n;
  };
}

export function positiveNumber(max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d*\.?\d+$/.test(v) || !Number.isFinite(n) || n <= 0 || n > max) {
      throw new InvalidArgumentError(`must be a positive number <= ${max}`);
    }
    return n;
  };
}

/** A base URL flag: https, or http on loopback only (like the CDK context). */
export function urlOption(v: string): string {
  const problem = baseUrlProblem(v);
  if (problem) throw new InvalidArgumentError(problem);
  return v.replace(/\/+$/, '');
}

/** `all`, or a comma-separated list of feed names. */
export function parseFeeds(v: string | string[]): FeedName[] {
  const parts = (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean);
  if (parts.length === 1 && parts[0] === 'all') return [...FEED_NAMES];
  const out: FeedName[] = [];
  for (const p of parts) {
    if (!(FEED_NAMES as string[]).includes(p)) {
      throw new InvalidArgumentError(`unknown feed "${p}" (use all or ${FEED_NAMES.join(', ')})`);
    }
    if (!out.includes(p as FeedName)) out.push(p as FeedName);
  }
  if (out.length === 0) throw new InvalidArgumentError('no feed given');
  return out;
}

export function feedsOption(v: string): FeedName[] {
  return parseFeeds(v);
}

/** Rate limit from a config file: `rateLimit: 100, rateWindow: 900` or `rateLimit: {calls, windowSeconds}`. */
export function configRate(cfg: ConfigFile): { calls?: number; windowSeconds?: number } {
  const r = cfg.rateLimit;
  if (typeof r === 'object') return { calls: r.calls, windowSeconds: r.windowSeconds };
  return { calls: r, windowSeconds: cfg.rateWindow };
}
