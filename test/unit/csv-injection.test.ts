/**
 * X12 (issue #12): CSV formula injection. Text from the API (`type`, `entry_mode`) or a ZIP's
 * Type column lands in index/{userId}/activities.csv; a spreadsheet would run a cell starting
 * with = + - @ tab or CR. The one CSV writer neutralises them (OWASP: a leading `'`, quoted);
 * the NDJSON keeps the exact values and numbers stay numbers.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../functions/adapters/memory/index.ts';
import { buildIndex, writeDerived } from '../../functions/core/export/derive.ts';
import { pausedActivity } from '../fixtures/activities.ts';

const dec = new TextDecoder();
const HOSTILE = [
  '=HYPERLINK("http://127.0.0.1/x?"&A1,"click")',
  "+cmd|' /C calc'!A0",
  "-2+3+cmd|' /C calc'!A0",
  "@SUM(1+1)*cmd|' /C calc'!A0",
  '\t=1+1',
  '\r=1+1',
];

describe('X12: CSV formula injection', () => {
  it('every formula-looking text cell is neutralised in the CSV and exact in the NDJSON', async () => {
    const store = new MemoryObjectStore();
    const base = pausedActivity();
    for (const [i, bad] of HOSTILE.entries()) {
      await writeDerived(store, '7', {
        ...base,
        uri: `/fitnessActivities/${900 + i}`,
        type: bad,
        entry_mode: bad,
      });
    }
    await buildIndex(store, '7');
    const csv = dec.decode(await store.get('index/7/activities.csv'));
    const [header, ...rows] = parseCsv(csv) as string[][];
    expect(rows).toHaveLength(HOSTILE.length);
    const col = (name: string) => header!.indexOf(name);
    const seen = new Set<string>();
    for (const r of rows) {
      for (const name of ['type', 'entryMode']) {
        const cell = r[col(name)]!;
        // What a spreadsheet sees: text starting with a quote, never a formula.
        expect(cell.startsWith("'")).toBe(true);
        expect(HOSTILE).toContain(cell.slice(1));
        seen.add(cell.slice(1));
      }
      // Numbers are untouched: a negative UTC offset is still a number.
      expect(r[col('utcOffset')]).toBe('-4');
      // No cell starts a formula; a leading minus is only ever a plain number.
      for (const cell of r) expect(cell).not.toMatch(/^[=+@\t\r]|^-(?!\d+(\.\d+)?$)/);
    }
    expect(seen.size).toBe(HOSTILE.length);
    const ndjson = dec
      .decode(await store.get('index/7/activities.ndjson'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; entryMode: string });
    expect(ndjson.map((r) => r.type).sort()).toEqual([...HOSTILE].sort());
    expect(ndjson.map((r) => r.entryMode).sort()).toEqual([...HOSTILE].sort());
  });
});
