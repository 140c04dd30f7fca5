/**
 * "The archive is whole" for a local data directory after a sync, checked against the
 * simulator: every activity exactly once (raw file, ledger row), every raw activity with its
 * index row and, when it has a path, its GPX/TCX/GeoJSON; the CSV index and the manifest list
 * them all; zero 429s and no window over the limit.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Simulator } from '../../simulator/server.ts';
import { ledgerRows, rawActivityFiles } from './cli.ts';

export function expectWholeArchive(
  s: Simulator,
  dataDir: string,
  userId: string,
  limitCalls: number,
): void {
  const ids = s.activityIds(userId).sort();
  expect(rawActivityFiles(dataDir, userId)).toEqual(ids.map((id) => `${id}.json`).sort());
  const rows = ledgerRows(dataDir).filter((r) => r.feed === 'fitnessActivities');
  expect(rows.map((r) => r.id).sort()).toEqual(ids);
  // A live activity (still being recorded) is stored raw and waits for its final version.
  const live = new Set<string>();
  for (const r of rows) {
    const doc = s.document(userId, 'fitnessActivities', r.id) as { is_live?: unknown };
    if (doc?.is_live === true) {
      live.add(r.id);
      expect(r.lastError ?? '').toMatch(/is_live/);
    } else expect(r.status, `${r.id} ${r.lastError ?? ''}`).toBe('SYNCED');
  }
  const done = ids.filter((id) => !live.has(id));

  const rowDir = join(dataDir, 'index', userId, 'rows');
  const rowIds = (existsSync(rowDir) ? readdirSync(rowDir) : []).map((f) =>
    f.replace(/\.json$/, ''),
  );
  expect(rowIds.filter((id) => !live.has(id)).sort()).toEqual(done);
  for (const id of done) {
    const raw = JSON.parse(
      readFileSync(join(dataDir, 'raw', userId, 'fitnessActivities', `${id}.json`), 'utf8'),
    ) as { path?: unknown[] };
    if (Array.isArray(raw.path) && raw.path.length > 1) {
      for (const [dir, ext] of [
        ['gpx', 'gpx'],
        ['tcx', 'tcx'],
        ['geojson', 'geojson'],
      ]) {
        expect(
          existsSync(join(dataDir, dir!, userId, 'fitnessActivities', `${id}.${ext}`)),
          `${dir}/${id}`,
        ).toBe(true);
      }
    }
  }
  const csv = readFileSync(join(dataDir, 'index', userId, 'activities.csv'), 'utf8')
    .trim()
    .split('\r\n')
    .slice(1)
    .map((l) => l.split(',')[0]);
  expect(csv.filter((id) => !live.has(id!)).sort()).toEqual(done);
  const manifest = JSON.parse(
    readFileSync(join(dataDir, 'index', userId, 'manifest.json'), 'utf8'),
  ) as { files: { key: string }[] };
  const rawKeys = manifest.files
    .map((f) => f.key)
    .filter((k) => /^raw\/\d+\/fitnessActivities\/\d+\.json$/.test(k));
  expect(rawKeys.sort()).toEqual(
    ids.map((id) => `raw/${userId}/fitnessActivities/${id}.json`).sort(),
  );
  expect(s.http429()).toBe(0);
  expect(s.maxCallsInWindow(userId)).toBeLessThanOrEqual(limitCalls);
}
