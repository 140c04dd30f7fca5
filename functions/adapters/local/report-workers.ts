/**
 * Raw documents prepared for the HTML report on worker threads, one per core: parsing and
 * simplifying 5,000 tracks of 3,000 points is CPU work that one thread does at half the speed
 * of a 2-core machine. The core's `prepareActivity` runs unchanged in each worker
 * (report-worker.ts); this only hands out documents and collects the results.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Prepare, PreparedActivity } from '../../core/report/build.ts';

interface Pending {
  resolve: (p: PreparedActivity) => void;
  reject: (e: Error) => void;
}

export class ReportWorkers {
  readonly #workers: { w: Worker; busy: number }[] = [];
  readonly #pending = new Map<number, Pending>();
  #seq = 0;

  constructor(threads = availableParallelism()) {
    for (let i = 0; i < Math.max(1, threads); i++) {
      const w = new Worker(new URL('./report-worker.ts', import.meta.url));
      const slot = { w, busy: 0 };
      w.on('message', (m: { id: number; ok?: PreparedActivity; error?: string }) => {
        slot.busy--;
        const p = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        if (m.ok) p?.resolve(m.ok);
        else p?.reject(new Error(m.error ?? 'worker failed'));
      });
      w.on('error', (e) => {
        for (const p of this.#pending.values()) p.reject(e);
        this.#pending.clear();
      });
      this.#workers.push(slot);
    }
  }

  readonly prepare: Prepare = (bytes) =>
    new Promise((resolve, reject) => {
      const id = this.#seq++;
      this.#pending.set(id, { resolve, reject });
      const slot = this.#workers.reduce((a, b) => (b.busy < a.busy ? b : a));
      slot.busy++;
      slot.w.postMessage({ id, bytes });
    });

  async close(): Promise<void> {
    await Promise.all(this.#workers.map(({ w }) => w.terminate()));
  }
}
