/**
 * Every Lambda handler bundles (the CDK construct's esbuild settings) under the 1 MiB budget
 * and initialises in a fresh Node process with a complete environment. Init time is measured
 * by the benchmark (BENCHMARKS.md); here it only has to succeed, so CI load cannot flake it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { measureBundles } from '../../bench/lambda.ts';

describe('Lambda bundles', () => {
  it('all seven handlers bundle under 1 MiB and initialise', async () => {
    const bundles = await measureBundles(join(import.meta.dirname, '..', '..'), 1);
    expect(bundles.map((b) => b.handler).sort()).toEqual([
      'authorize',
      'callback',
      'deauthorize',
      'fetcher',
      'importer',
      'scheduler',
      'strava-pusher',
    ]);
    for (const b of bundles) expect(b.bytes, b.handler).toBeLessThan(1024 * 1024);
  }, 120_000);
});
