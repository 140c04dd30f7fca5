/**
 * Raw documents prepared for the HTML report on worker threads, one per core: parsing and
 * simplifying 5,000 tracks of 3,000 points is CPU work that one thread does at half the speed
 * of a 2-core machine. The core's `prepareActivity` runs unchanged in each worker
 * (report-worker.ts); this only hands out documents and collects the results.
 * Threads start only once an archive proves large (`inlineFirst` documents done in this
 * thread), so the report refresh after a small sync or import costs no thread start-up.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Prepare, type PreparedActivity, prepareActivity } from '../../core/report/build.ts';

interface Pending {
  resolve: (p: PreparedActivity) => void;
  reject: (e: Error) => void;
}

export class ReportWorkers {
  readonly #workers: { w: Worker; busy: number }[] = [];
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #inline: number;
  readonly #threads: number;

  constructor(threads = availableParallelism(), inlineFirst = 100) {
    this.#threads = Math.max(1, threads);
    this.#inline = inlineFirst;
  }

  /** Documents prepared in worker threads so far (the rest ran in this thread). */
  get threaded(): number {
    return this.#seq;
  }

  #start(): void {
    for (let i = 0; i < this.#threads; i++) {
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

  readonly prepare: Prepare = (bytes) => {
    if (this.#inline > 0) {
      this.#inline--;
      return Promise.resolve().then(() => prepareActivity(bytes));
    }
    if (this.#workers.length === 0) this.#start();
    return new Promise((resolve, reject) => {
      const id = this.#seq++;
      this.#pending.set(id, { resolve, reject });
      const slot = this.#workers.reduce((a, b) => (b.busy < a.busy ? b : a));
      slot.busy++;
      slot.w.postMessage({ id, bytes });
    });
  };

  async close(): Promise<void> {
    await Promise.all(this.#workers.map(({ w }) => w.terminate()));
  }
}
