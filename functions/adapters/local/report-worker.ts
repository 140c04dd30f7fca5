/** Worker thread of ReportWorkers: one raw document in, its report parts out. */
import { parentPort } from 'node:worker_threads';
import { prepareActivity } from '../../core/report/build.ts';

parentPort?.on('message', ({ id, bytes }: { id: number; bytes: Uint8Array }) => {
  try {
    parentPort?.postMessage({ id, ok: prepareActivity(bytes) });
  } catch (e) {
    parentPort?.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
