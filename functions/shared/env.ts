/**
 * The environment each function gets from the CDK stack (infra/stack.ts), parsed once at
 * cold start. A missing or malformed variable fails the cold start with the variable's
 * name (never its value).
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// zod/mini loads no locale: English messages for the cold-start error (names, never values).
z.config(en());

const nonEmpty = z.string().check(z.trim(), z.minLength(1));
const url = z.pipe(
  z.string().check(
    z.trim(),
    z.refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'https:' || u.protocol === 'http:';
      } catch {
        return false;
      }
    }, 'must be an http(s) URL'),
  ),
  z.transform((v) => v.replace(/\/+$/, '')),
);
const positive = z.coerce.number().check(z.positive());
const paramName = z
  .string()
  .check(z.regex(/^\/[A-Za-z0-9_.\-/]+$/, 'must be an absolute SSM name'));

const table = { TABLE_NAME: nonEmpty };
const budget = {
  RATE_LIMIT_CALLS: z.coerce.number().check(z.int(), z.positive()),
  // Fractional seconds are accepted: tests scale time down.
  RATE_LIMIT_WINDOW_SECONDS: positive,
};
const tokens = {
  TOKEN_PARAM_PREFIX: z
    .string()
    .check(z.regex(/^\/[A-Za-z0-9_.\-/]*\/$/, 'must be an SSM path starting and ending with /')),
};

export const ENV_SCHEMAS = {
  authorize: z.object({
    ...table,
    CLIENT_ID: nonEmpty,
    AUTH_BASE_URL: url,
    REDIRECT_URI: z.optional(url),
  }),
  callback: z.object({
    ...table,
    ...budget,
    ...tokens,
    CLIENT_ID: nonEmpty,
    CLIENT_SECRET_PARAM: paramName,
    // Unset when the stack is deployed with encryption=aws-managed: tokens go under aws/ssm.
    TOKEN_KMS_KEY_ID: z.optional(nonEmpty),
    API_BASE_URL: url,
    AUTH_BASE_URL: url,
    REDIRECT_URI: z.optional(url),
    SCHEDULER_FUNCTION_NAME: nonEmpty,
  }),
  deauthorize: z
    .object({
      ...table,
      ...tokens,
      ON_REVOKE: z._default(z.enum(['keep', 'delete']), 'keep'),
      BUCKET_NAME: z.optional(nonEmpty),
    })
    .check(
      z.refine((e) => e.ON_REVOKE !== 'delete' || e.BUCKET_NAME !== undefined, {
        message: 'BUCKET_NAME is required when ON_REVOKE=delete',
        path: ['BUCKET_NAME'],
      }),
    ),
  scheduler: z.object({
    ...table,
    ...budget,
    ...tokens,
    QUEUE_URL: url,
    API_BASE_URL: url,
    SCHEDULE_MINUTES: positive,
    BUCKET_NAME: z.optional(nonEmpty),
  }),
  fetcher: z.object({
    ...table,
    ...budget,
    ...tokens,
    BUCKET_NAME: nonEmpty,
    QUEUE_URL: url,
    API_BASE_URL: url,
  }),
  importer: z.object({ ...table, BUCKET_NAME: nonEmpty, IMPORT_QUEUE_URL: url }),
} as const;

export type FunctionName = keyof typeof ENV_SCHEMAS;
export type EnvOf<F extends FunctionName> = z.infer<(typeof ENV_SCHEMAS)[F]>;

export class EnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvError';
  }
}

export function parseEnv<F extends FunctionName>(
  fn: F,
  env: Record<string, string | undefined> = process.env,
): EnvOf<F> {
  const r = ENV_SCHEMAS[fn].safeParse(env);
  if (!r.success) {
    const problems = r.error.issues
      .map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`)
      .join('; ');
    throw new EnvError(`invalid environment for the ${fn} function: ${problems}`);
  }
  return r.data as EnvOf<F>;
}
