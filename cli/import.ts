/** `rk-sync import`: the human summary of an export ZIP import (per-row outcomes, problems). */
import type { ArchiveImportReport, ImportItem } from '../functions/core/import/archive.ts';
import type { ImportError } from '../functions/core/import/export-zip.ts';
import { printable } from './text.ts';

const MAX_LINES = 50;

const where = (e: ImportError) =>
  `${e.entry === undefined ? '' : printable(e.entry)}${e.line !== undefined ? `:${e.line}` : ''}`;

function itemLine(it: ImportItem): string {
  const what = [it.date?.replace('T', ' '), it.type].filter(Boolean).join(' ');
  const detail =
    it.outcome === 'merged'
      ? `merged with API activity ${it.mergedWith}`
      : it.outcome === 'duplicate'
        ? `duplicate row (${it.reason ?? ''}), imported once`
        : it.outcome === 'skipped'
          ? `skipped: ${it.reason ?? ''}`
          : it.outcome;
  return `  line ${it.line ?? '?'}${what ? ` ${printable(what)}` : ''}: ${printable(detail)}`;
}

function capped(out: string[], lines: string[]): void {
  out.push(...lines.slice(0, MAX_LINES));
  if (lines.length > MAX_LINES)
    out.push(`  … and ${lines.length - MAX_LINES} more (--json lists all)`);
}

/** Every line is escaped: entry names and CSV cells come from the ZIP. */
export function describeImport(r: ArchiveImportReport, userId: string): string {
  const c = r.counts;
  const out = [
    `rk-sync: imported ${r.activities} activities for user ${userId}: ${c.new} new, ${c.merged} merged with an API activity, ${c.updated} updated, ${c.unchanged} unchanged, ${c.duplicate} duplicate rows, ${c.skipped} skipped; ${r.originals} original files kept`,
  ];
  // New and unchanged rows are the expected case; list the others, each with its line.
  capped(
    out,
    r.items.filter((it) => it.outcome !== 'new' && it.outcome !== 'unchanged').map(itemLine),
  );
  if (r.errors.length > 0) {
    out.push('problems:');
    capped(
      out,
      r.errors.map((e) => `  ${where(e)}${where(e) ? ': ' : ''}${printable(e.reason)}`),
    );
  }
  if (r.notices.length > 0) {
    out.push('notes:');
    capped(
      out,
      r.notices.map((e) => `  ${where(e)}${where(e) ? ': ' : ''}${printable(e.reason)}`),
    );
  }
  return out.join('\n');
}
