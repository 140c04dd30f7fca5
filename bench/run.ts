/**
 * rk-sync benchmark: `npm run bench` (full) or `npm run bench -- --quick` (< 1 min).
 * Writes bench/results.json and the generated section of BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  type BackfillResult,
  backfillRkSync,
  backfillScript2019,
  steadyState,
} from './backfill.ts';
import { monthlyCost, PRICES, type UsageMonth } from './cost.ts';
import { measureBundles } from './lambda.ts';
import type { PipelineResult } from './pipeline.ts';

const root = join(import.meta.dirname, '..');
const quick = process.argv.includes('--quick');
const started = performance.now();
const log = (m: string) => console.error(`[bench] ${m}`);

const sizes = quick ? [100, 1000] : [50, 100, 1000, 5000];
const backfills: BackfillResult[] = [];
for (const n of sizes) {
  log(`backfill ${n} (rk-sync)`);
  backfills.push(await backfillRkSync(n));
  log(`backfill ${n} (2019 script)`);
  backfills.push(await backfillScript2019(n));
}
log('steady state: idle run and new-activity latency');
const steady = await steadyState(quick ? 8 : 40);

// The deployed design on moto (real SDK requests) for the idle run's DynamoDB/S3/SQS counts.
let deployed: Record<string, unknown> | undefined;
if (!quick && existsSync(join(root, 'scripts', 'e2e-local.ts'))) {
  log('e2e:local on moto for request counts');
  const r = spawnSync(
    process.execPath,
    [join(root, 'scripts', 'e2e-local.ts'), '--json', '--activities', '60'],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 300_000,
    },
  );
  const last = r.stdout.trim().split('\n').at(-1);
  try {
    deployed = last ? (JSON.parse(last) as Record<string, unknown>) : undefined;
  } catch {
    deployed = undefined;
  }
}

log('lambda bundles and init time');
const bundles = await measureBundles(root, quick ? 3 : 7);
log('local pipeline throughput');
const pipeRun = spawnSync(
  process.execPath,
  [
    '--expose-gc',
    join(root, 'bench', 'pipeline-cli.ts'),
    'full',
    String(quick ? 200 : 1000),
    String(quick ? 5 : 20),
  ],
  { cwd: root, encoding: 'utf8', timeout: 600_000 },
);
if (pipeRun.status !== 0)
  throw new Error(`pipeline scenario failed: ${pipeRun.stderr.slice(-2000)}`);
const pipe = JSON.parse(pipeRun.stdout.trim().split('\n').at(-1)!) as PipelineResult;
const HEAP_CAP_MB = 96;
const capped = spawnSync(
  process.execPath,
  [`--max-old-space-size=${HEAP_CAP_MB}`, join(root, 'bench', 'pipeline-cli.ts'), 'capped', '10'],
  { cwd: root, encoding: 'utf8', timeout: 300_000 },
);
const renderCapped = capped.status === 0 && capped.stdout.includes('"ok":true');

// ---- cost model
const idleDynamo = Number(
  (deployed?.idleRunRequests as Record<string, number> | undefined)?.DynamoDB ?? 11,
);
const perFetchDynamo = 7; // ledger get, account get, budget get+put, ledger get+put, row (see BENCHMARKS.md)
const perFetchS3 = 10; // head+put for raw, gpx, tcx, geojson, index row
const schedMs = 400;
const fetchMs = 900; // incl. ~300 ms Runkeeper latency per call
const gb = 0.25;
// The SQS event source long-polls all the time: about 5 pollers × 3 ReceiveMessage calls a
// minute (20 s long polls), whether or not there is work.
const ESM_POLLS_PER_MINUTE = 5 * 3;
function usage(
  label: string,
  runs: number,
  fetches: number,
  storedMb: number,
  minutes: number,
): UsageMonth {
  return {
    label,
    lambdaInvocations: runs + fetches,
    lambdaGbSeconds: ((runs * schedMs + fetches * fetchMs) / 1000) * gb,
    dynamoWrites: runs * 1 + fetches * 4,
    dynamoReads: runs * (idleDynamo - 1) + fetches * (perFetchDynamo - 4),
    s3Puts: fetches * (perFetchS3 / 2),
    s3Gets: fetches * (perFetchS3 / 2),
    s3StoredGb: storedMb / 1024,
    // Two SQS event sources poll while idle: the fetch queue and the import queue (#14 §1).
    sqsRequests: fetches * 3 + 2 * ESM_POLLS_PER_MINUTE * minutes,
    kmsRequests: runs + fetches * 2,
    logGb: ((runs + fetches) * 1.5) / 1024 / 1024,
    alarms: 3, // fetch DLQ, import DLQ, account revoked
    kmsKeys: 1,
  };
}
const big = backfills.find((b) => b.strategy === 'rk-sync' && b.activities === Math.max(...sizes))!;
const typical = monthlyCost(
  usage('typical month (30 activities)', 30 * 96, 30, 30 * 0.2, 30 * 24 * 60),
);
const backfillCost = monthlyCost(
  usage(
    `backfill of ${big.activities}`,
    big.schedulerInvocations,
    big.fetcherInvocations,
    big.activities * 0.2,
    big.virtualSeconds / 60,
  ),
);

const results = {
  generatedAt: new Date().toISOString(),
  command: quick ? 'npm run bench -- --quick' : 'npm run bench',
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  backfill: backfills,
  steady: { ...steady, idleRunCalls: steady.idleRunCalls },
  deployedOnMoto: deployed ?? null,
  bundles,
  pipeline: { ...pipe, renderCompletesWithHeapCapMb: renderCapped ? HEAP_CAP_MB : null },
  cost: {
    prices: PRICES,
    typicalMonth: typical,
    backfill: backfillCost,
    assumptions: { schedMs, fetchMs, memoryGb: gb, perFetchDynamo, perFetchS3, idleDynamo },
  },
  scenarios: [
    ...backfills.map((b) => ({
      name: `backfill-${b.activities}-${b.strategy}`,
      utilization: round(b.utilization, 3),
      http429: b.http429,
    })),
    {
      name: 'idle-run',
      utilization: null,
      http429: steady.http429,
      idleRunCalls: steady.idleRunCalls,
    },
  ],
  seconds: Math.round((performance.now() - started) / 100) / 10,
};
writeFileSync(join(root, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);

// ---- BENCHMARKS.md (generated section)
const fmt = (n: number, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const rows = backfills
  .map(
    (b) =>
      `| ${fmt(b.activities)} | ${b.strategy} | ${fmt(b.stored)} | ${fmt(b.apiCalls)} | ${fmt(b.minimumCalls)} | ${fmt(b.floorSeconds / 3600, 2)} h | ${fmt(b.virtualSeconds / 3600, 2)} h | ${fmt(b.idealSeconds / 3600, 2)} h | ${fmt(b.utilization * 100, 1)} % | ${b.maxCallsInAnyWindow} | ${b.http429} |`,
  )
  .join('\n');
const bundleRows = bundles
  .map(
    (b) =>
      `| ${b.handler} | ${fmt(b.bytes / 1024)} KiB | ${b.initMs.median} ms (${b.initMs.min}–${b.initMs.max}) |`,
  )
  .join('\n');
const costLines = (c: ReturnType<typeof monthlyCost>) =>
  Object.entries(c.lines)
    .map(([k, v]) => `${k} $${v.toFixed(4)}`)
    .join(', ');
const section = `<!-- bench:start -->
Produced by \`${results.command}\` on ${results.generatedAt.slice(0, 10)}: ${results.machine.cpus} × ${results.machine.cpuModel}, ${results.machine.memoryGb} GiB, Node ${results.machine.node}; ${results.seconds} s. Raw numbers: \`bench/results.json\`.

### 1. Full backfill against the limit (100 calls / 900 s, virtual time)

rk-sync runs the deployed cadence (scheduler every 15 min, each message at its DelaySeconds, one consumer). "2019 script" is the seed script's strategy on the same simulator: every page back to back (25 per page), then one activity every 9 s, non-200 answers dropped.

| N | strategy | stored | API calls | minimum | floor ⌊(min−1)/98⌋ × 900 s | completion | ideal (calls ÷ limit × window) | utilisation | max calls in any 900 s | 429s |
|---|---|---|---|---|---|---|---|---|---|---|
${rows}

rk-sync spends each window's free calls at once and polls no change log while a backfill lists; its calls above the minimum (N + ⌈N/100⌉ + 1) are re-fetches of activities still being recorded (\`is_live\`) once they end. Utilisation above 100 % means calls ahead of the even rate, never over the limit (see the max-per-window column).

### 2. Idle scheduled run

| API calls | Lambda invocations | messages enqueued | ledger reads / writes | account writes | S3 writes |
|---|---|---|---|---|---|
| ${steady.idleRunCalls} | ${steady.idleRunInvocations} | ${steady.idleRunEnqueued} | ${steady.idleRunLedgerReads} / ${steady.idleRunLedgerWrites} | ${steady.idleRunAccountWrites} | ${steady.idleRunS3Puts} |
${deployed ? `\nOn moto with the real AWS adapters (\`npm run e2e:local -- --json\`): \`${JSON.stringify(deployed)}\`\n` : ''}
### 3. New activity upstream → raw JSON stored

${steady.latencySeconds.samples} activities created at random moments of the 15-minute period: mean ${fmt(steady.latencySeconds.mean)} s, p95 ${fmt(steady.latencySeconds.p95)} s, max ${fmt(steady.latencySeconds.max)} s (bounded by the schedule period; a run fetches a new activity in its first free budget slot).

### 4. Lambda bundles and module initialisation (cold-start proxy)

Bundled with the CDK construct's esbuild settings (ESM, minified, node24); init = \`import()\` of the bundle in a fresh Node process, median of runs.

| handler | bundle | init |
|---|---|---|
${bundleRows}

### 5. Monthly AWS cost (us-east-1 list prices, no free tier)

| scenario | total | without the KMS key and alarms | breakdown |
|---|---|---|---|
| typical month (30 activities, 2,880 scheduler runs) | $${typical.total.toFixed(3)} | $${typical.variable.toFixed(4)} | ${costLines(typical)} |
| backfill of ${fmt(big.activities)} (${big.schedulerInvocations} runs, ${big.fetcherInvocations} fetches) | $${backfillCost.total.toFixed(3)} | $${backfillCost.variable.toFixed(4)} | ${costLines(backfillCost)} |

Assumptions: the two SQS event sources' idle long polling (${ESM_POLLS_PER_MINUTE} ReceiveMessage calls a minute each, inside SQS's free million a month), scheduler ${schedMs} ms and fetcher ${fetchMs} ms at ${gb * 1024} MB (arm64), ${perFetchDynamo} DynamoDB and ${perFetchS3} S3 requests per fetch, ${idleDynamo} DynamoDB requests per idle run, 200 KB stored per activity. Prices: ${Object.entries(
  PRICES,
)
  .map(([k, v]) => `${k} ${v}`)
  .join(', ')}.

### 6. Local pipeline with the limit lifted

Sync of ${pipe.syncActivities} activities (HTTP + raw + photos + GPX/TCX/GeoJSON/index, everything kept in an in-memory store): **${pipe.syncActivitiesPerSecond} activities/s**, peak RSS ${pipe.syncPeakRssMb} MB. Rendering alone on ${pipe.renderActivities} activities of ${fmt(pipe.renderPointsPerActivity)} points (GPX + TCX + GeoJSON + index row each): **${pipe.renderActivitiesPerSecond} activities/s**, peak RSS ${pipe.renderPeakRssMb} MB (process baseline ${pipe.baselineRssMb} MB; V8 grows lazily without memory pressure). With the V8 heap capped at ${HEAP_CAP_MB} MB, rendering 10 such activities ${renderCapped ? '**completes**' : '**fails**'}: that is the renderer's real memory need.
<!-- bench:end -->`;
const mdPath = join(root, 'BENCHMARKS.md');
const md = existsSync(mdPath)
  ? readFileSync(mdPath, 'utf8')
  : '# Benchmarks\n\n<!-- bench:start -->\n<!-- bench:end -->\n';
const next = md.includes('<!-- bench:start -->')
  ? md.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, section)
  : `${md}\n${section}\n`;
writeFileSync(mdPath, next);
console.log(JSON.stringify(results.scenarios));
log(
  'HTML report budgets: bench/report.ts (bench/report-results.json, BENCHMARKS.md "HTML report")',
);
spawnSync(
  process.execPath,
  [join(root, 'bench', 'report.ts'), ...(quick ? ['--activities', '300'] : [])],
  {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 1_800_000,
  },
);
log(`done in ${results.seconds} s`);

function round(n: number, d: number) {
  return Math.round(n * 10 ** d) / 10 ** d;
}
