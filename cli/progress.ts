/**
 * Progress on stderr: a bar on a TTY, plain periodic lines otherwise, nothing when quiet.
 * stdout stays free for the final summary (and `--json`).
 */
import cliProgress from 'cli-progress';

export interface ProgressSnapshot {
  stored: number;
  known: number;
  apiCalls: number;
  budgetUsed: number;
  budgetCapacity: number;
  /** Real milliseconds until done, from the budget (remaining × window ÷ capacity). */
  etaMs: number | undefined;
}

export interface Reporter {
  update(s: ProgressSnapshot): void;
  /** Called before another line is written to stderr (keeps the bar readable). */
  interrupt(): void;
  stop(): void;
}

export type ProgressMode = 'bar' | 'lines' | 'none';

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

export function chooseMode(o: { quiet: boolean; json: boolean }): ProgressMode {
  if (o.quiet) return 'none';
  if (process.stderr.isTTY) return 'bar';
  return o.json ? 'none' : 'lines';
}

export function makeReporter(mode: ProgressMode, intervalMs = 5_000): Reporter {
  if (mode === 'none') return { update() {}, interrupt() {}, stop() {} };
  if (mode === 'lines') {
    let last = 0;
    let pending: ProgressSnapshot | undefined;
    const print = (s: ProgressSnapshot) => {
      process.stderr.write(
        `rk-sync: ${s.stored}/${s.known} stored, ${s.apiCalls} API calls, budget ${s.budgetUsed}/${s.budgetCapacity}, ETA ${s.etaMs === undefined ? '?' : formatDuration(s.etaMs)}\n`,
      );
    };
    return {
      update(s) {
        pending = s;
        const now = Date.now();
        if (now - last >= intervalMs) {
          last = now;
          print(s);
          pending = undefined;
        }
      },
      interrupt() {},
      stop() {
        if (pending) print(pending);
      },
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format:
        'rk-sync |{bar}| {value}/{total} stored | {calls} API calls | budget {used}/{cap} | ETA {etaText}',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      barsize: 30,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(s) {
      const payload = {
        calls: s.apiCalls,
        used: s.budgetUsed,
        cap: s.budgetCapacity,
        etaText: s.etaMs === undefined ? '?' : formatDuration(s.etaMs),
      };
      if (!started) {
        bar.start(Math.max(1, s.known), s.stored, payload);
        started = true;
        return;
      }
      bar.setTotal(Math.max(1, s.known));
      bar.update(s.stored, payload);
    },
    interrupt() {
      if (started) process.stderr.write('\r\x1b[K');
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
