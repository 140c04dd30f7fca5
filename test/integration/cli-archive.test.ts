/**
 * The ZIP-only and archive-only user through the real `rk-sync` process: import, status,
 * export --fit and verify with no linked account and no API credentials; a tree of raw
 * documents alone (what `aws s3 sync` of the bucket gives) rebuilt and verified; verify red
 * on a flipped byte, a missing and an unexpected file; hostile ZIP entries reported with
 * their control characters escaped, one bad entry never stopping the rest.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { newKmExport, oldMilesExport } from '../fixtures/runkeeper-corpus.ts';
import { allFiles, killAllChildren, runCli } from '../helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'rk-archive-'));
afterAll(() => {
  killAllChildren();
  rmSync(tmp, { recursive: true, force: true });
});
const enc = (s: string) => new TextEncoder().encode(s);
let n = 0;
const newDir = () => join(tmp, `d${n++}`);

function zipFile(files: Record<string, Uint8Array>): string {
  const path = join(tmp, `z${n++}.zip`);
  writeFileSync(path, zipSync(files));
  return path;
}

// No RK_CLIENT_* and no config: the ZIP-only user has no API credentials at all.
const NO_API = { RK_CLIENT_ID: '', RK_CLIENT_SECRET: '' };

describe('the ZIP-only user', () => {
  it('import, status, export --fit and verify work without an account; verify finds a flipped byte, a missing and an extra file', async () => {
    const dir = newDir();
    const old = oldMilesExport();
    const imp = await runCli(['import', zipFile(old.files), '--data-dir', dir], NO_API);
    expect(imp.code, imp.stdout + imp.stderr).toBe(0);
    expect(imp.stdout).toContain(
      `imported ${old.expected.length} activities for user 0: ${old.expected.length} new, 0 merged with an API activity, 0 updated, 0 unchanged, 1 duplicate rows, 0 skipped`,
    );
    expect(imp.stdout).toContain(
      'line 9 2014-06-08 12:00:00 Walking: duplicate row (byte-identical to line 8), imported once',
    );

    const st = await runCli(['status', '--data-dir', dir], NO_API);
    expect(st.code, st.stdout + st.stderr).toBe(0);
    expect(st.stdout).toContain(
      `Archive of user 0: ${old.expected.length} activities (0 from the API, ${old.expected.length} from an export ZIP, 0 from both)`,
    );
    expect(st.stdout).not.toContain('run "rk-sync auth"');

    const ex = await runCli(['export', '--fit', '--data-dir', dir], NO_API);
    expect(ex.code, ex.stdout + ex.stderr).toBe(0);
    const fits = allFiles(join(dir, 'fit'));
    expect(fits).toHaveLength(3); // the three with a known UTC start
    const ok = await runCli(['verify', '--data-dir', dir, '--json'], NO_API);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout) as {
      ok: boolean;
      users: { listed: number; ok: number }[];
    };
    expect(report.ok).toBe(true);
    const manifest = JSON.parse(readFileSync(join(dir, 'index', '0', 'manifest.json'), 'utf8')) as {
      files: { key: string }[];
    };
    const keys = manifest.files.map((f) => f.key);
    for (const f of fits) expect(keys).toContain(`fit/${f}`);
    expect(keys).toContain('index/0/activities.csv');
    expect(report.users[0]!.ok).toBe(keys.length);

    // A flipped byte, a missing file and a file the manifest does not list.
    const gpx = join(dir, 'gpx', '0', 'fitnessActivities');
    const gpxKey = `gpx/0/fitnessActivities/${allFiles(gpx)[0]!}`;
    const bytes = readFileSync(join(dir, gpxKey));
    bytes[100] = bytes[100]! ^ 1;
    writeFileSync(join(dir, gpxKey), bytes);
    const tcxKey = `tcx/0/fitnessActivities/${allFiles(join(dir, 'tcx', '0', 'fitnessActivities'))[0]!}`;
    unlinkSync(join(dir, tcxKey));
    writeFileSync(join(dir, 'geojson', '0', 'stray.geojson'), '{}');
    const bad = await runCli(['verify', '--data-dir', dir], NO_API);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('MISMATCH');
    expect(bad.stdout).toContain(`  changed    ${gpxKey}`);
    expect(bad.stdout).toContain(`  missing    ${tcxKey}`);
    expect(bad.stdout).toContain('  unexpected geojson/0/stray.geojson');
  }, 120_000);

  it('a tree of raw documents alone (a copy of the bucket) is exported, verified and reported on', async () => {
    const src = newDir();
    const imp = await runCli(['import', zipFile(newKmExport().files), '--data-dir', src], NO_API);
    expect(imp.code, imp.stdout + imp.stderr).toBe(0);
    const dir = newDir();
    cpSync(join(src, 'raw'), join(dir, 'raw'), { recursive: true });
    const ex = await runCli(['export', '--fit', '--data-dir', dir, '--json'], NO_API);
    expect(ex.code, ex.stdout + ex.stderr).toBe(0);
    expect(JSON.parse(ex.stdout)).toMatchObject({
      users: [{ userId: '0', rendered: 3, failed: 0, rows: 3, fit: 2, fitSkipped: 1 }],
    });
    const v = await runCli(['verify', '--data-dir', dir], NO_API);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/user 0 in .*: OK/);
    const st = await runCli(['status', '--data-dir', dir, '--json'], NO_API);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({
      accounts: [],
      archive: [{ userId: '0', activities: 3, bySource: { zip: 3 } }],
    });
    // The same index as the original import produced.
    expect(readFileSync(join(dir, 'index', '0', 'activities.ndjson'), 'utf8')).toBe(
      readFileSync(join(src, 'index', '0', 'activities.ndjson'), 'utf8'),
    );
  }, 120_000);

  it('verify is green after a demo sync (photos and all)', async () => {
    const dir = newDir();
    const demo = await runCli(
      ['demo', '--data-dir', dir, '--activities', '80', '--duration', '3', '--quiet'],
      {},
      90_000,
    );
    expect(demo.code, demo.stderr).toBe(0);
    const v = await runCli(['verify', '--data-dir', dir, '--json']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const r = JSON.parse(v.stdout) as { users: { userId: string; listed: number }[] };
    expect(r.users[0]!.listed).toBeGreaterThan(80 * 4);
    // The local sync stored every photo and thumbnail the raw documents list.
    const raw = join(dir, 'raw', r.users[0]!.userId, 'fitnessActivities');
    const images = allFiles(raw)
      .filter((f) => /^\d+\.json$/.test(f))
      .reduce(
        (n, f) =>
          n +
          ((JSON.parse(readFileSync(join(raw, f), 'utf8')) as { images?: [] }).images ?? []).length,
        0,
      );
    expect(images).toBeGreaterThan(0);
    expect(allFiles(join(dir, 'media'))).toHaveLength(2 * images);
  }, 180_000);

  it('a ZIP that is not a Runkeeper export says so', async () => {
    const dir = newDir();
    const r = await runCli(
      [
        'import',
        zipFile({ 'photos/IMG_0001.jpg': enc('jpeg'), 'readme.txt': enc('hi') }),
        '--data-dir',
        dir,
      ],
      NO_API,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      '  this is not a Runkeeper export (no cardioActivities.csv): nothing imported',
    );
    expect(r.stdout).not.toContain('  : cardioActivities.csv not found');
  });

  it('hostile entries: system files skipped, a file/dir clash and control characters reported escaped, the rest imported', async () => {
    const dir = newDir();
    const { files } = newKmExport();
    const csv = new TextDecoder().decode(files['cardioActivities.csv']);
    const r = await runCli(
      [
        'import',
        zipFile({
          ...files,
          'cardioActivities.csv': enc(
            `${csv}ffffffff-0000-4000-8000-000000000009,2015-07-02 \u001b[2J12:00,Yoga,,,45:00,,,150,,,,,\r\n`,
          ),
          notes: enc('a file first'),
          'notes/child.txt': enc('then a child of it'),
          'evil\u001b]0;owned\u0007.txt': enc('x'),
          '__MACOSX/._2016-01-09-063012.gpx': enc('\u0000\u0005\u0016\u0007'),
        }),
        '--data-dir',
        dir,
      ],
      NO_API,
    );
    expect(r.code).toBe(1); // a row and two entries could not be taken as they are
    expect(r.stdout).toContain('3 new');
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).not.toContain('\u0007');
    expect(r.stdout).toContain('bad Date "2015-07-02 \\x1b[2J12:00"');
    expect(r.stdout).toContain('evil\\x1b]0;owned\\x07.txt: unsafe entry name');
    expect(r.stdout).toMatch(/notes\/child\.txt: original not stored: .*ENOTDIR/);
    expect(r.stdout).toContain('__MACOSX/._2016-01-09-063012.gpx: not data (system file): skipped');
    expect(r.stdout).toContain('.DS_Store: not data (system file): skipped');
    // Every activity made it, and every other original is kept.
    expect(allFiles(join(dir, 'raw', '0', 'fitnessActivities'))).toHaveLength(3);
  }, 60_000);
});
