import type { Ledger } from '../ports.ts';

/**
 * Re-opens items that gave up (FAILED, e.g. an invalid payload) or are backing off after
 * transient errors, so the next sync fetches them again at once (`rk-sync sync --retry-failed`).
 * Each becomes PENDING with no back-off; nothing else changes. Returns how many were re-opened.
 */
export async function reopenFailed(ledger: Ledger, userId: string, now: number): Promise<number> {
  const stuck = [
    ...(await ledger.list(userId, 'FAILED')),
    ...(await ledger.list(userId, 'PENDING')).filter(
      (it) => (it.notBefore ?? 0) > now && it.lastError !== undefined,
    ),
  ];
  if (stuck.length === 0) return 0;
  await ledger.observe(
    userId,
    stuck.map((it) => ({
      feed: it.feed,
      id: it.id,
      summaryHash: it.summaryHash ?? '',
      startTime: it.startTime,
      force: true,
    })),
    now,
  );
  return stuck.length;
}
