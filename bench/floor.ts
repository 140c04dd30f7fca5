/**
 * Backfill completion against the floor (issue 14 §3): `node bench/floor.ts` runs the deployed
 * cadence in virtual time for N = 50, 100, 1,000 and 5,000 and rewrites only its own section of
 * BENCHMARKS.md (between the bench-floor markers). Target: completion ≤ ⌊(C−1)/B⌋ × 900 s + 60 s
 * with C = N + ⌈N/100⌉ + 1 and B = 98, zero 429s, never more than the limit in any window.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BackfillResult, backfillRkSync } from './backfill.ts';

const root = join(import.meta.dirname, '..');
const sizes = [50, 100, 1000, 5000];
const started = performance.now();
const results: BackfillResult[] = [];
for (const n of sizes) {
  console.error(`[bench:floor] backfill ${n}`);
  results.push(await backfillRkSync(n));
}

const fmt = (n: number, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const s = (sec: number) => `${fmt(sec)} s`;
export function floorRow(b: BackfillResult): string {
  const target = b.floorSeconds + 60;
  const ok = b.virtualSeconds <= target && b.http429 === 0 && b.maxCallsInAnyWindow <= 100;
  return `| ${fmt(b.activities)} | ${fmt(b.minimumCalls)} | ${s(b.floorSeconds)} | ${s(target)} | ${s(b.virtualSeconds)} | ${ok ? 'yes' : 'NO'} | ${fmt(b.apiCalls)} | ${b.changeLogCalls} | ${b.maxCallsInAnyWindow} | ${b.http429} |`;
}

const section = `<!-- bench-floor:start -->
### Backfill against the floor (issue 14 §3, virtual time)

Produced by \`node bench/floor.ts\` on ${new Date().toISOString().slice(0, 10)} (${fmt((performance.now() - started) / 1000, 1)} s real). The deployed cadence (scheduler every 15 min, messages at their DelaySeconds), the simulator's real limit of 100 calls per 900 s. C = N + ⌈N/100⌉ + 1 calls is the least a full backfill needs; B = 98 calls per window (limit − margin), the first window spent at once, so the floor is ⌊(C−1)/B⌋ × 900 s; the target allows 60 s more. API calls are those made until completion (they include re-fetches of activities still being recorded once they end).

| N | C (min calls) | floor | target | completion | within | API calls | change-log calls | max calls in any 900 s | 429s |
|---|---|---|---|---|---|---|---|---|---|
${results.map(floorRow).join('\n')}
<!-- bench-floor:end -->`;

const path = join(root, 'BENCHMARKS.md');
const md = readFileSync(path, 'utf8');
const re = /<!-- bench-floor:start -->[\s\S]*?<!-- bench-floor:end -->/;
writeFileSync(path, re.test(md) ? md.replace(re, section) : `${md.trimEnd()}\n\n${section}\n`);
console.log(section);
