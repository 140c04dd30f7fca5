/**
 * Crash injection for the step-boundary tests (F8, F9, F14): wrap the ledger, queue, account
 * store and object store so that the k-th operation throws, and every later operation of the
 * same invocation throws too (the process is gone), until `reset()`.
 */
import type { FetcherDeps } from '../../functions/core/sync/fetcher.ts';

export class CrashError extends Error {
  constructor(op: string) {
    super(`injected crash at ${op}`);
    this.name = 'CrashError';
  }
}

export class Crasher {
  ops = 0;
  crashAt: number;
  dead = false;
  /** Only count while armed (e.g. only the first scheduler round). */
  armed: () => boolean;
  readonly trace: string[] = [];
  /** An operation that starts a new invocation (a new process): it clears `dead`. */
  resetOn: string | undefined;
  constructor(crashAt: number, armed: () => boolean = () => true, resetOn?: string) {
    this.crashAt = crashAt;
    this.armed = armed;
    this.resetOn = resetOn;
  }
  reset(): void {
    this.dead = false;
  }
  tick(op: string): void {
    if (!this.armed()) return;
    if (this.dead && op === this.resetOn) this.dead = false;
    if (this.dead) throw new CrashError(`${op} (after the crash)`);
    this.ops++;
    this.trace.push(op);
    if (this.ops === this.crashAt) {
      this.dead = true;
      throw new CrashError(op);
    }
  }
  wrap<T extends object>(name: string, target: T): T {
    return new Proxy(target, {
      get: (t, prop, recv) => {
        const v = Reflect.get(t, prop, recv);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          this.tick(`${name}.${String(prop)}`);
          return (v as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  }
  deps(d: FetcherDeps): FetcherDeps {
    return {
      ...d,
      ledger: this.wrap('ledger', d.ledger),
      queue: this.wrap('queue', d.queue),
      accounts: this.wrap('accounts', d.accounts),
      store: this.wrap('store', d.store),
    };
  }
}
