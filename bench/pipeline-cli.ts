/**
 * Runs the pipeline scenario in its own process so its memory figures start from a clean heap.
 * `capped N`: render N activities of 10,000 points with the V8 heap capped (the caller passes
 * --max-old-space-size) and print {ok, ms}: the renderer's real memory need, unlike peak RSS.
 */
import { writeDerived } from '../functions/core/export/derive.ts';
import { bigActivity, pipeline } from './pipeline.ts';

const [mode, a, b] = process.argv.slice(2);
if (mode === 'capped') {
  const store = {
    put: async () => ({ written: true }),
    get: async () => undefined,
    hash: async () => undefined,
    list: async function* () {},
  };
  const t = performance.now();
  for (let i = 0; i < Number(a ?? 10); i++)
    await writeDerived(store, '1', bigActivity(100 + i, 10_000));
  console.log(JSON.stringify({ ok: true, ms: Math.round(performance.now() - t) }));
} else {
  console.log(JSON.stringify(await pipeline(Number(a ?? 1000), Number(b ?? 20))));
}
