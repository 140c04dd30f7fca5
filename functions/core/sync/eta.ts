/**
 * When will `n` more calls be done? The budget spends free slots at once and every later
 * slot exactly one window after the slot it reuses, so call i (0-based) happens at
 * `first[i mod B] + ⌊i / B⌋ × window`, where `first` is the forecast of the next B slots.
 * A fresh sync of 90 activities therefore shows about a minute, not 14 (one call per 9 s).
 */
import type { CallBudget } from '../budget.ts';

/** Time of the last of `n` calls given the forecast of the next `first.length` (= B) slots. */
export function lastCallAt(first: number[], n: number, windowMs: number): number | undefined {
  if (n <= 0) return undefined;
  const b = first.length;
  if (b === 0) return undefined;
  const i = n - 1;
  return first[i % b]! + Math.floor(i / b) * windowMs;
}

/** Milliseconds (budget time) until `n` more calls for `key` are done; 0 when none are left. */
export async function callsEtaMs(
  budget: CallBudget,
  key: string,
  now: number,
  n: number,
): Promise<number> {
  if (n <= 0) return 0;
  const v = await budget.inspect(key, now);
  const first = await budget.forecast(key, now, Math.min(n, v.capacity));
  const at = lastCallAt(first, n, v.windowMs);
  return at === undefined ? 0 : Math.max(0, at - now);
}
