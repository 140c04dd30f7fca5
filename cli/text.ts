/**
 * Text from outside (ZIP entry names, CSV cells, file names) on the terminal: control
 * characters (C0, DEL, C1, and the bidi overrides that reorder what is shown) are escaped
 * as `\xNN` / `\u{NNNN}`, so a crafted name cannot move the cursor, clear the screen or
 * forge a line. `--json` output needs none of this (JSON escapes them itself).
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

export function printable(s: string): string {
  return s.replace(CONTROL, (c) => {
    const n = c.codePointAt(0)!;
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}
