/**
 * The report page is committed as a generated module (so the CLI runs from source and the
 * scheduler Lambda bundles it); it must be exactly what esbuild makes of its source today.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PAGE } from '../../functions/core/report/page.generated.ts';
import { GENERATED, reportPageModule } from '../../scripts/build-report-page.ts';

describe('report page bundle', () => {
  it('page.generated.ts is up to date with functions/core/report/page (npm run build:report-page)', async () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(await reportPageModule());
  });

  it('holds uPlot and the page code, and nothing that could close its element or fetch', () => {
    expect(PAGE.js).toContain('uplot');
    expect(PAGE.css).toContain('.uplot');
    expect(PAGE.js).not.toMatch(/<\/script/i);
    expect(PAGE.js).not.toMatch(/\bfetch\(|XMLHttpRequest|WebSocket|sendBeacon/);
  });
});
