/**
 * Assembles the one-file report: the page's script and styles inline (allowed by their
 * SHA-256 in a strict Content-Security-Policy, `default-src 'none'`: the page can make no
 * request at all), the table data as one JSON block, and each activity's detail in its own
 * deflated block, decoded only when the activity is opened.
 *
 * Every JSON block has `<`, `>` and `&` escaped, so a note holding `</script>` or `<!--`
 * cannot end the block; the page only ever puts data into the DOM as text.
 */
import { createHash } from 'node:crypto';
import { deflateSync, strToU8 } from 'fflate';
import type { ActivityDetail, ReportData, RouteSketches } from './types.ts';

/** JSON safe inside a `<script type="application/json">` element. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A JSON value deflated and base64-encoded (only [A-Za-z0-9+/=]: inert in HTML). */
export function packBlock(value: unknown): string {
  return Buffer.from(deflateSync(strToU8(JSON.stringify(value)), { level: 6 })).toString('base64');
}

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/** The origin a tile URL template loads from (only http(s)); undefined otherwise. */
export function tileOrigin(template: string | undefined): string | undefined {
  if (!template) return undefined;
  try {
    const u = new URL(template.replace(/[{}]/g, ''));
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

export function contentSecurityPolicy(js: string, css: string, tiles?: string): string {
  const origin = tileOrigin(tiles);
  return [
    "default-src 'none'",
    `script-src ${sha256(js)}`,
    `style-src ${sha256(css)}`,
    `img-src data:${origin ? ` ${origin}` : ''}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export interface ReportPage {
  js: string;
  css: string;
}

const escapeText = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The HTML document. Details arrive as an iterable of [id, packed block] so a large archive
 * is never held twice (each block is a few KB of base64).
 */
export function reportHtml(
  page: ReportPage,
  data: ReportData,
  details: Iterable<[string, string]>,
  sketches: string,
): string {
  // A `</style` or `</script` inside the bundled code would end its element early.
  if (/<\/(script|style)/i.test(page.js) || /<\/style/i.test(page.css)) {
    throw new Error('page bundle contains a closing tag');
  }
  const csp = contentSecurityPolicy(page.js, page.css, data.tiles);
  const parts: string[] = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeText(csp)}">`,
    '<meta name="referrer" content="no-referrer">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>Runkeeper archive of user ${escapeText(data.userId)}</title>`,
    `<style>${page.css}</style>`,
    '</head>',
    '<body>',
    '<noscript>This report needs JavaScript (it runs only inside this file; nothing is sent anywhere).</noscript>',
    `<script type="application/json" id="rk-data">${jsonForScript(data)}</script>`,
    // The page runs before the detail blocks are parsed: it paints while they stream in.
    `<script>${page.js}</script>`,
    `<script type="application/octet-stream" id="rk-sketches">${sketches}</script>`,
  ];
  for (const [id, block] of details) {
    parts.push(`<script type="application/octet-stream" id="d${id}">${block}</script>`);
  }
  parts.push('</body>', '</html>', '');
  return parts.join('\n');
}

export function packDetail(d: ActivityDetail): string {
  return packBlock(d);
}

export function packSketches(s: RouteSketches): string {
  return packBlock(s);
}
