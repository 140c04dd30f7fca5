/**
 * An in-memory model of SQS and of the Lambda SQS event source mapping (ESM), on a virtual
 * clock, for the discrete-event simulation (catalogue §3.6, hazards H1 and H2).
 *
 * - `VirtualRuntime`: cooperative tasks in virtual time. A task parks on `sleepUntil(t)`;
 *   `run(until)` waits (in real time) until every live task is parked, then moves the
 *   ManualClock to the earliest wake-up and resumes it. Real loopback HTTP inside a task is
 *   simply "zero virtual time".
 * - `SqsModel implements WorkQueue`: per-message DelaySeconds (≤ 900 s), visibility timeout,
 *   ApproximateReceiveCount, maxReceiveCount → DLQ (moved on the receive that would exceed
 *   it, as SQS does), delete on success. The real scheduler and fetcher send into it.
 * - `EsmModel`: batch size 1, `pollers` pollers, `slots` execution slots, two modes:
 *   'reserved' (H1: pollers receive whatever the concurrency; a delivery that finds no free
 *   slot is throttled and its message returns after the visibility timeout with its receive
 *   count already incremented) and 'maximum' (ESM MaximumConcurrency: pollers only receive
 *   when a slot is free, so nothing is throttled).
 * Every loop is bounded.
 */
import type { ManualClock } from '../../functions/core/clock.ts';
import type { FetchMessage, WorkQueue } from '../../functions/core/ports.ts';

// ------------------------------------------------------------------ virtual runtime

interface Timer {
  t: number;
  seq: number;
  tag: string | undefined;
  resolve: () => void;
}

export class VirtualRuntime {
  readonly clock: ManualClock;
  #timers: Timer[] = [];
  #seq = 0;
  #active = 0;
  #parked = 0;
  #errors: unknown[] = [];
  /** Virtual events processed (wake-ups). */
  events = 0;

  constructor(clock: ManualClock) {
    this.clock = clock;
  }

  /** Start a task; an exception in it fails the next `run`. */
  spawn(fn: () => Promise<void>): void {
    this.#active++;
    void (async () => {
      try {
        await fn();
      } catch (e) {
        this.#errors.push(e);
      } finally {
        this.#active--;
      }
    })();
  }

  /** Park the calling task until virtual time `t` (or until `wake(tag)`). */
  sleepUntil(t: number, tag?: string): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#parked++;
      this.#timers.push({
        t: Math.max(t, this.clock.now()),
        seq: ++this.#seq,
        tag,
        resolve: () => {
          this.#parked--;
          resolve();
        },
      });
    });
  }

  sleep(ms: number, tag?: string): Promise<void> {
    return this.sleepUntil(this.clock.now() + Math.max(0, ms), tag);
  }

  /** Bring every sleeper with this tag forward to now (a long poll seeing a new message). */
  wake(tag: string): void {
    const now = this.clock.now();
    for (const tm of this.#timers) if (tm.tag === tag && tm.t > now) tm.t = now;
  }

  get tasks(): number {
    return this.#active;
  }

  /** Wait in real time until every task is parked (or finished). */
  async settle(realTimeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + realTimeoutMs;
    for (let i = 0; this.#active > this.#parked; i++) {
      if (Date.now() > deadline)
        throw new Error(`virtual runtime: tasks still running after ${realTimeoutMs} ms real`);
      await new Promise<void>((r) => (i < 50 ? setImmediate(r) : setTimeout(r, 1)));
    }
    const e = this.#errors.shift();
    if (e !== undefined) throw e;
  }

  /** Advance virtual time event by event up to `until` (or until `stop()` says so). */
  async run(until: number, stop?: () => boolean, maxEvents = 5_000_000): Promise<void> {
    for (let n = 0; n < maxEvents; n++) {
      await this.settle();
      if (stop?.()) return;
      if (this.#timers.length === 0) {
        this.clock.set(until);
        return;
      }
      let best = 0;
      for (let i = 1; i < this.#timers.length; i++) {
        const a = this.#timers[i]!;
        const b = this.#timers[best]!;
        if (a.t < b.t || (a.t === b.t && a.seq < b.seq)) best = i;
      }
      const next = this.#timers[best]!;
      if (next.t > until) {
        this.clock.set(until);
        return;
      }
      this.#timers.splice(best, 1);
      this.clock.set(next.t);
      this.events++;
      next.resolve();
    }
    throw new Error(`virtual runtime: more than ${maxEvents} events`);
  }

  /** Release every parked task for good (end of a test): they see `stopped`. */
  stopped = false;
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (let i = 0; i < 100 && this.#timers.length > 0; i++) {
      const ts = this.#timers.splice(0);
      for (const t of ts) t.resolve();
      await this.settle().catch(() => undefined);
    }
  }
}

// ------------------------------------------------------------------ SQS

export interface SqsMessage {
  messageId: number;
  body: FetchMessage;
  sentAt: number;
  delaySeconds: number;
  /** Visible (receivable) from this time. */
  visibleAt: number;
  receiveCount: number;
  /** Current receipt (a newer receive makes older receipts stale). */
  receipt: number;
  /** Last error a consumer reported for it (becomes the DLQ reason). */
  lastError?: string | undefined;
}

export interface DeadLetterEntry {
  body: FetchMessage;
  reason: string;
  receiveCount: number;
  movedAt: number;
}

export interface SqsModelOptions {
  visibilityTimeoutMs: number;
  maxReceiveCount: number;
  /** Queue-level DelaySeconds (default 0). */
  queueDelaySeconds?: number;
}

export class SqsModel implements WorkQueue {
  readonly clock: ManualClock;
  readonly opts: SqsModelOptions;
  readonly dlq: DeadLetterEntry[] = [];
  #messages = new Map<number, SqsMessage>();
  #seq = 0;
  #receipts = 0;
  /** Called after every send (the ESM model wakes its long-polling pollers). */
  onSend?: () => void;
  readonly stats = {
    sent: 0,
    received: 0,
    deleted: 0,
    maxDelaySeconds: 0,
    maxReceiveCount: 0,
    /** Largest receive count of a message that was then deleted (processed). */
    maxReceiveCountDeleted: 0,
    /** Longest time from send to first receive, ms. */
    maxWaitMs: 0,
  };

  constructor(clock: ManualClock, opts: SqsModelOptions) {
    this.clock = clock;
    this.opts = opts;
  }

  async send(messages: { body: FetchMessage; delaySeconds: number }[]): Promise<void> {
    if (messages.length > 10) throw new Error('SendMessageBatch takes at most 10 entries');
    const now = this.clock.now();
    for (const m of messages) {
      if (!Number.isInteger(m.delaySeconds) || m.delaySeconds < 0 || m.delaySeconds > 900)
        throw new Error(`DelaySeconds must be an integer 0..900, got ${m.delaySeconds}`);
      const delay = m.delaySeconds || (this.opts.queueDelaySeconds ?? 0);
      const id = ++this.#seq;
      this.#messages.set(id, {
        messageId: id,
        body: structuredClone(m.body),
        sentAt: now,
        delaySeconds: delay,
        visibleAt: now + delay * 1000,
        receiveCount: 0,
        receipt: 0,
      });
      this.stats.sent++;
      this.stats.maxDelaySeconds = Math.max(this.stats.maxDelaySeconds, delay);
    }
    this.onSend?.();
  }

  /** ReceiveMessage with MaxNumberOfMessages 1: the oldest visible message, or undefined. */
  receive(): { message: SqsMessage; receipt: number } | undefined {
    const now = this.clock.now();
    for (let guard = 0; guard < 1_000_000; guard++) {
      let best: SqsMessage | undefined;
      for (const m of this.#messages.values())
        if (m.visibleAt <= now && (!best || m.visibleAt < best.visibleAt)) best = m;
      if (!best) return undefined;
      if (best.receiveCount >= this.opts.maxReceiveCount) {
        // SQS moves it to the DLQ instead of delivering it a maxReceiveCount+1-th time.
        this.#messages.delete(best.messageId);
        this.dlq.push({
          body: best.body,
          reason: best.lastError ?? 'maxReceiveCount exceeded',
          receiveCount: best.receiveCount,
          movedAt: now,
        });
        continue;
      }
      if (best.receiveCount === 0)
        this.stats.maxWaitMs = Math.max(this.stats.maxWaitMs, now - best.sentAt);
      best.receiveCount++;
      best.receipt = ++this.#receipts;
      best.visibleAt = now + this.opts.visibilityTimeoutMs;
      this.stats.received++;
      this.stats.maxReceiveCount = Math.max(this.stats.maxReceiveCount, best.receiveCount);
      return { message: best, receipt: best.receipt };
    }
    return undefined;
  }

  /** DeleteMessage. A stale receipt (the message was received again since) still deletes, as
   *  SQS may; deleting twice is a no-op. */
  delete(messageId: number): void {
    const m = this.#messages.get(messageId);
    if (!m) return;
    this.#messages.delete(messageId);
    this.stats.deleted++;
    this.stats.maxReceiveCountDeleted = Math.max(this.stats.maxReceiveCountDeleted, m.receiveCount);
  }

  /** A failed delivery: record why (the DLQ reason); it reappears after its visibility timeout. */
  fail(messageId: number, reason: string): void {
    const m = this.#messages.get(messageId);
    if (m) m.lastError = reason.slice(0, 300);
  }

  /** Earliest time any message becomes receivable (undefined when empty). */
  nextVisibleAt(): number | undefined {
    let t: number | undefined;
    for (const m of this.#messages.values())
      if (t === undefined || m.visibleAt < t) t = m.visibleAt;
    return t;
  }

  get size(): number {
    return this.#messages.size;
  }

  messages(): SqsMessage[] {
    return [...this.#messages.values()];
  }

  /** Drop every message (a purge, or a lost batch). */
  purge(filter: (m: SqsMessage) => boolean = () => true): number {
    let n = 0;
    for (const [id, m] of this.#messages)
      if (filter(m)) {
        this.#messages.delete(id);
        n++;
      }
    return n;
  }
}

// ------------------------------------------------------------------ ESM

export interface EsmOptions {
  /** 'reserved': H1 (throttled deliveries); 'maximum': ESM MaximumConcurrency (no throttling). */
  mode: 'reserved' | 'maximum';
  pollers: number;
  slots: number;
  /** Virtual time one invocation holds its slot (default 1 s). */
  durationMs?: (m: FetchMessage) => number;
  /** How long a poller backs off after a throttled invoke (default 1 s). */
  throttleBackoffMs?: number;
  /** Long-poll wait when the queue is empty (default 20 s; a send wakes it earlier). */
  longPollMs?: number;
}

export type Consumer = (m: FetchMessage, delivery: { receiveCount: number }) => Promise<unknown>;

export class EsmModel {
  readonly rt: VirtualRuntime;
  readonly queue: SqsModel;
  readonly opts: EsmOptions;
  readonly consumer: Consumer;
  #busy = 0;
  readonly stats = { invocations: 0, throttles: 0, failures: 0, maxBusy: 0 };
  #running = false;

  constructor(rt: VirtualRuntime, queue: SqsModel, consumer: Consumer, opts: EsmOptions) {
    this.rt = rt;
    this.queue = queue;
    this.consumer = consumer;
    this.opts = opts;
    queue.onSend = () => rt.wake('poll');
  }

  /** Start the pollers (they run until `stop()` or the runtime shuts down). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (let p = 0; p < this.opts.pollers; p++) this.rt.spawn(() => this.#poller());
  }

  stop(): void {
    this.#running = false;
    this.rt.wake('poll');
  }

  get busy(): number {
    return this.#busy;
  }

  async #poller(): Promise<void> {
    const rt = this.rt;
    const longPoll = this.opts.longPollMs ?? 20_000;
    for (let guard = 0; guard < 10_000_000 && this.#running && !rt.stopped; guard++) {
      if (this.opts.mode === 'maximum' && this.#busy >= this.opts.slots) {
        // MaximumConcurrency: no receive while every slot is taken.
        await rt.sleep(longPoll, 'poll');
        continue;
      }
      const got = this.queue.receive();
      if (!got) {
        const next = this.queue.nextVisibleAt();
        const now = rt.clock.now();
        await rt.sleepUntil(
          next !== undefined ? Math.min(next, now + longPoll) : now + longPoll,
          'poll',
        );
        continue;
      }
      if (this.#busy >= this.opts.slots) {
        // H1: the invoke is throttled; the message stays in flight until its visibility expires.
        this.stats.throttles++;
        this.queue.fail(got.message.messageId, 'Lambda throttled (no free execution slot)');
        await rt.sleep(this.opts.throttleBackoffMs ?? 1_000);
        continue;
      }
      this.#busy++;
      this.stats.maxBusy = Math.max(this.stats.maxBusy, this.#busy);
      this.stats.invocations++;
      const start = rt.clock.now();
      const duration = this.opts.durationMs?.(got.message.body) ?? 1_000;
      try {
        await this.consumer(got.message.body, { receiveCount: got.message.receiveCount });
        await rt.sleepUntil(start + duration);
        this.queue.delete(got.message.messageId);
      } catch (e) {
        // A thrown error fails the (one-message) batch: it comes back after the visibility timeout.
        this.stats.failures++;
        this.queue.fail(got.message.messageId, e instanceof Error ? e.message : String(e));
        await rt.sleepUntil(start + duration);
      } finally {
        this.#busy--;
        // A freed slot lets waiting pollers receive again.
        if (this.opts.mode === 'maximum') rt.wake('poll');
      }
    }
  }
}
