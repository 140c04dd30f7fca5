/**
 * Per-handler bundle size and module initialisation time (a cold-start proxy): each handler
 * is bundled with the same esbuild settings as the CDK construct, then imported in a fresh
 * Node 24 process with a complete environment, several times; the median is reported.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

export interface BundleResult {
  handler: string;
  bytes: number;
  initMs: { median: number; min: number; max: number };
}

const ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  TABLE_NAME: 'bench-table',
  BUCKET_NAME: 'bench-bucket',
  QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/bench',
  IMPORT_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/bench-import',
  CLIENT_ID: 'bench',
  CLIENT_SECRET_PARAM: '/rk-sync/client-secret',
  TOKEN_PARAM_PREFIX: '/rk-sync/bench/tokens/',
  TOKEN_KMS_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/bench',
  API_BASE_URL: 'https://api.runkeeper.com',
  AUTH_BASE_URL: 'https://runkeeper.com',
  REDIRECT_URI: 'https://example.execute-api.us-east-1.amazonaws.com/callback',
  RATE_LIMIT_CALLS: '100',
  RATE_LIMIT_WINDOW_SECONDS: '900',
  SCHEDULE_MINUTES: '15',
  ON_REVOKE: 'keep',
  SCHEDULER_FUNCTION_NAME: 'bench-scheduler',
  STRAVA_CLIENT_ID: '12345',
  STRAVA_CLIENT_SECRET_PARAM: '/rk-sync/strava-client-secret',
  STRAVA_TOKEN_PARAM_PREFIX: '/rk-sync/bench/strava-tokens/',
  STRAVA_API_BASE_URL: 'https://www.strava.com/api/v3',
  STRAVA_OAUTH_BASE_URL: 'https://www.strava.com/oauth',
  POWERTOOLS_SERVICE_NAME: 'rk-sync',
  POWERTOOLS_METRICS_NAMESPACE: 'RkSync',
  POWERTOOLS_LOG_LEVEL: 'WARN',
};

export async function measureBundles(root: string, runs = 5): Promise<BundleResult[]> {
  const dir = join(root, 'functions', 'handlers');
  if (!existsSync(dir)) return [];
  const out = mkdtempSync(join(tmpdir(), 'rk-bench-'));
  const results: BundleResult[] = [];
  try {
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .sort()) {
      const name = file.replace(/\.ts$/, '');
      const outfile = join(out, `${name}.mjs`);
      await build({
        entryPoints: [join(dir, file)],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node24',
        minify: true,
        mainFields: ['module', 'main'],
        outfile,
        logLevel: 'silent',
        banner: {
          js: "import { createRequire as __cr } from 'module';const require = __cr(import.meta.url);",
        },
      });
      const probe = join(out, `${name}-probe.mjs`);
      writeFileSync(
        probe,
        `const t=performance.now();const m=await import(${JSON.stringify(outfile)});if(typeof m.handler!=='function')throw new Error('no handler');console.log(performance.now()-t);`,
      );
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const r = spawnSync(process.execPath, [probe], {
          env: { ...process.env, ...ENV },
          encoding: 'utf8',
        });
        if (r.status !== 0)
          throw new Error(`${name} failed to initialise: ${r.stderr.slice(0, 400)}`);
        times.push(Number(r.stdout.trim()));
      }
      times.sort((a, b) => a - b);
      results.push({
        handler: name,
        bytes: statSync(outfile).size,
        initMs: {
          median: round(times[Math.floor(times.length / 2)]!),
          min: round(times[0]!),
          max: round(times.at(-1)!),
        },
      });
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return results;
}

const round = (n: number) => Math.round(n * 10) / 10;
