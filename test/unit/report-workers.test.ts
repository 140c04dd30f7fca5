/**
 * The CLI prepares raw documents for the report on worker threads: each worker must give
 * exactly what the core gives in-process, and a broken document is an error for that one
 * document only.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ReportWorkers } from '../../functions/adapters/local/report-workers.ts';
import { prepareActivity } from '../../functions/core/report/build.ts';
import { contractActivity, longActivity, pausedActivity } from '../fixtures/activities.ts';

const workers = new ReportWorkers(2, 0);
afterAll(() => workers.close());
const enc = new TextEncoder();

describe('ReportWorkers', () => {
  it('a small archive is prepared in this thread: no worker starts', async () => {
    const small = new ReportWorkers(2, 3);
    const doc = enc.encode(JSON.stringify(contractActivity()));
    const out = await Promise.all([1, 2, 3].map(() => small.prepare(doc)));
    expect(out).toEqual([1, 2, 3].map(() => prepareActivity(doc)));
    expect(small.threaded).toBe(0);
    expect(await small.prepare(doc)).toEqual(prepareActivity(doc));
    expect(small.threaded).toBe(1);
    await small.close();
  });

  it('prepares documents in worker threads exactly as in-process', async () => {
    const docs = [contractActivity(), pausedActivity(), longActivity(3000)].map((d) =>
      enc.encode(JSON.stringify(d)),
    );
    const results = await Promise.all(docs.map((b) => workers.prepare(b)));
    expect(results).toEqual(docs.map((b) => prepareActivity(b)));
    expect(results[2]?.block).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(workers.threaded).toBe(3);
  });

  it('a document that is not JSON rejects alone; the pool keeps working', async () => {
    await expect(workers.prepare(enc.encode('{"uri": broken'))).rejects.toThrow(/JSON/);
    const ok = await workers.prepare(enc.encode(JSON.stringify(contractActivity())));
    expect(ok.notes).toBe('Short test loop');
  });
});
