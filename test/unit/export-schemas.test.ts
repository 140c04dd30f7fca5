/**
 * Every rendered GPX and TCX validates against the official XSDs with xmllint: GPX 1.1
 * (Topografix) and Training Center Database v2 (Garmin), vendored under test/schemas/.
 * Garmin's TrackPointExtension v2 XSD was not found in a public source we could vendor:
 * GPX `<extensions>` are `processContents="lax"`, so the heart-rate extension is checked
 * for well-formedness only. Inputs: simulator activities (API path), the export-ZIP corpus
 * (ZIP path: local-as-Z GPX, no elevation, manual entries with no known UTC start).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderGpx } from '../../functions/core/export/gpx.ts';
import { renderTcx } from '../../functions/core/export/tcx.ts';
import { parseCardioCsv, toApiShapedActivity } from '../../functions/core/import/export-zip.ts';
import { parseExportGpx } from '../../functions/core/import/gpx-stream.ts';
import { startSimulator } from '../../simulator/server.ts';
import { contractActivity, manualActivity, pausedActivity } from '../fixtures/activities.ts';
import { newKmExport, oldMilesExport } from '../fixtures/runkeeper-corpus.ts';

const SCHEMAS = join(import.meta.dirname, '..', 'schemas');
const dir = mkdtempSync(join(tmpdir(), 'rk-xsd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** xmllint over many files at once; returns the files that failed, with its messages. */
function xmllint(schema: string, files: string[]): { failed: string[]; stderr: string } {
  const r = spawnSync(
    'xmllint',
    ['--noout', '--nonet', '--schema', join(SCHEMAS, schema), ...files],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  expect(r.error, 'xmllint must be installed (npm test installs libxml2-utils)').toBeUndefined();
  const failed = files.filter((f) => r.stderr.includes(`${f} fails to validate`));
  return { failed, stderr: r.stderr };
}

/** Raw-like activities from the ZIP corpus, through the real CSV and GPX parsers. */
function corpusActivities(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const { files } of [oldMilesExport(), newKmExport()]) {
    const { rows } = parseCardioCsv(new TextDecoder().decode(files['cardioActivities.csv']));
    for (const row of rows) {
      const bytes = row.gpxFile ? files[row.gpxFile] : undefined;
      out.push(toApiShapedActivity(row, bytes && parseExportGpx(bytes)));
    }
  }
  return out;
}

describe('official schemas', () => {
  it('GPX 1.1 and TCX v2 of API and ZIP activities validate with xmllint', async () => {
    const sim = await startSimulator({ activities: 60, seed: 5 });
    const docs: unknown[] = [contractActivity(), pausedActivity(), manualActivity()];
    try {
      const u = sim.users[0]!.userId;
      for (const id of sim.activityIds(u)) docs.push(sim.document(u, 'fitnessActivities', id));
    } finally {
      await sim.close();
    }
    docs.push(...corpusActivities());
    const gpx: string[] = [];
    const tcx: string[] = [];
    docs.forEach((doc, i) => {
      const g = renderGpx(doc);
      if (g !== undefined) {
        gpx.push(join(dir, `${i}.gpx`));
        writeFileSync(gpx.at(-1)!, g);
      }
      tcx.push(join(dir, `${i}.tcx`));
      writeFileSync(tcx.at(-1)!, renderTcx(doc));
    });
    expect(gpx.length).toBeGreaterThan(20);
    const g = xmllint('gpx-1.1.xsd', gpx);
    expect(g.failed, g.stderr).toEqual([]);
    const t = xmllint('TrainingCenterDatabasev2.xsd', tcx);
    expect(t.failed, t.stderr).toEqual([]);
  }, 60_000);

  it('the validator is real: a TCX with an invalid value fails', () => {
    const bad = renderTcx(contractActivity()).replace(
      /<Calories>\d+<\/Calories>/,
      '<Calories>-1</Calories>',
    );
    const file = join(dir, 'bad.tcx');
    writeFileSync(file, bad);
    expect(xmllint('TrainingCenterDatabasev2.xsd', [file]).failed).toEqual([file]);
    const gfile = join(dir, 'bad.gpx');
    writeFileSync(gfile, renderGpx(contractActivity())!.replace('<trkseg>', '<trkseg><bogus/>'));
    expect(xmllint('gpx-1.1.xsd', [gfile]).failed).toEqual([gfile]);
  });
});
