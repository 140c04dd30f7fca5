/**
 * Which cardioActivities.csv rows are distinct activities, and their synthetic ids.
 *
 * Rule: a row's identity is its `Activity Id` (newer exports), else `Date|Type|Distance`
 * (the key older imports used). When several rows share that key:
 * - byte-identical rows (every field equal) are ONE activity: the later ones are reported
 *   as duplicate rows, not failures;
 * - rows that differ in anything (GPX file name, duration, notes, any field) are distinct
 *   activities, each keyed by the shared key plus its whole row content.
 * A key shared by no other row keeps the plain key, so ids stay those earlier imports gave,
 * and the outcome does not depend on row order: re-importing the same ZIP is a no-op, and a
 * later, larger export of the same account adds only its new rows.
 */
import type { CardioRow } from './export-zip.ts';
import { syntheticId } from './export-zip.ts';

export interface RowIdentity {
  row: CardioRow;
  id: string;
  /** Set for a byte-identical repeat: the CSV line of the row it repeats. */
  duplicateOf?: number;
}

const legacySeed = (r: CardioRow) => `${r.date}|${r.type}|${r.distanceMeters ?? ''}`;
const keyOf = (r: CardioRow) => (r.activityId.trim() ? `id:${r.activityId.trim()}` : legacySeed(r));

/** One entry per row, in CSV order. */
export function assignIds(rows: readonly CardioRow[]): RowIdentity[] {
  const groups = new Map<string, CardioRow[]>();
  for (const r of rows) {
    const k = keyOf(r);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const firstOfRecord = new Map<string, CardioRow>();
  return rows.map((row) => {
    const group = groups.get(keyOf(row))!;
    const distinct = new Set(group.map((r) => r.record)).size;
    const id =
      distinct === 1
        ? syntheticId(row.activityId, legacySeed(row))
        : syntheticId('', `${keyOf(row)}|${row.record}`);
    const first = firstOfRecord.get(id);
    if (first) return { row, id, duplicateOf: first.line };
    firstOfRecord.set(id, row);
    return { row, id };
  });
}
