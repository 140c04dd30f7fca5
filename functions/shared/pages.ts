/**
 * The pages a person sees first: the OAuth answers of the local `rk-sync auth` loopback and of
 * the AWS authorize/callback functions. One renderer and one small stylesheet for both, so
 * every page names the app, says what happened, the account linked when known, and the next
 * step. Pure: no I/O, no scripts, no external resources (the CSP allows inline style only), and
 * every text is escaped, so a page can never echo input as markup.
 */

export const APP_NAME = 'rk-sync';

export type PageTone = 'ok' | 'problem';

export interface PageContent {
  /** The headline: what happened. */
  title: string;
  /** One or two sentences under it. */
  message: string;
  tone: PageTone;
  /** The account the page is about, when known (e.g. "Runkeeper user 12345"). */
  account?: string | undefined;
  /** What to do next, in order. Text between backticks is shown as a command. */
  next?: readonly string[] | undefined;
}

/** The shared stylesheet: readable on any screen, light and dark, WCAG AA contrast. */
export const PAGE_CSS = [
  ':root{color-scheme:light dark;--bg:#f4f6f8;--card:#fff;--fg:#1d2329;--muted:#4a5561;--ok:#1b7a3d;--problem:#a4262c;--code:#eef1f4;--line:#d8dee4}',
  '@media (prefers-color-scheme:dark){:root{--bg:#101418;--card:#1a2027;--fg:#e8edf2;--muted:#b4bfca;--ok:#5cd08a;--problem:#ff8f8f;--code:#26303a;--line:#33404c}}',
  '*{box-sizing:border-box}',
  'body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}',
  'header{max-width:38rem;margin:0 auto;padding:2rem 1.25rem .75rem;display:flex;align-items:center;gap:.6rem;font-weight:700;letter-spacing:.02em}',
  '.mark{display:inline-grid;place-items:center;width:2rem;height:2rem;border-radius:.5rem;background:var(--fg);color:var(--bg);font-size:.8rem}',
  'main{max-width:38rem;margin:0 auto 3rem;padding:1.75rem 1.5rem;background:var(--card);border:1px solid var(--line);border-radius:.75rem;border-top:.35rem solid var(--tone)}',
  'main.ok{--tone:var(--ok)} main.problem{--tone:var(--problem)}',
  '@media (max-width:40rem){main{margin:0 .75rem 2rem;padding:1.25rem 1rem}}',
  'h1{margin:0 0 .5rem;font-size:1.5rem;line-height:1.25}',
  '.status{margin:0 0 .25rem;color:var(--tone);font-weight:700;text-transform:uppercase;font-size:.8rem;letter-spacing:.06em}',
  '.account{display:inline-block;margin:.25rem 0 .75rem;padding:.2rem .6rem;border:1px solid var(--line);border-radius:999px;color:var(--muted);font-size:.9rem}',
  'h2{margin:1.25rem 0 .4rem;font-size:1rem}',
  'ol{margin:0;padding-left:1.3rem} li{margin:.3rem 0}',
  'code{background:var(--code);padding:.1rem .35rem;border-radius:.3rem;font:.92em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}',
  'footer{max-width:38rem;margin:0 auto;padding:0 1.25rem 2rem;color:var(--muted);font-size:.85rem}',
].join('\n');

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"'`]/g,
    (c) =>
      ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' })[c] ??
      c,
  );
}

/** Escaped text in which `…` spans become <code>. */
function inline(text: string): string {
  return text
    .split('`')
    .map((part, i) => (i % 2 === 1 ? `<code>${escapeHtml(part)}</code>` : escapeHtml(part)))
    .join('');
}

export function renderPage(p: PageContent): string {
  const status = p.tone === 'ok' ? 'Done' : 'Not linked';
  const next = p.next?.length
    ? `<h2>Next</h2><ol>${p.next.map((n) => `<li>${inline(n)}</li>`).join('')}</ol>`
    : '';
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(`${p.title} · ${APP_NAME}`)}</title>`,
    `<style>${PAGE_CSS}</style></head><body>`,
    `<header><span class="mark" aria-hidden="true">rk</span><span>${APP_NAME}</span></header>`,
    `<main class="${p.tone}"><p class="status">${status}</p><h1>${escapeHtml(p.title)}</h1>`,
    `<p>${inline(p.message)}</p>`,
    p.account ? `<p class="account">Account: ${escapeHtml(p.account)}</p>` : '',
    next,
    '</main>',
    `<footer>${APP_NAME} keeps a private backup of your Runkeeper data. This page sends nothing anywhere.</footer>`,
    '</body></html>',
  ].join('');
}
