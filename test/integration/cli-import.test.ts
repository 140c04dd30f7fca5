/** `rk-sync import <zip>` end to end: the real CLI process, a generated export ZIP on disk. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../simulator/server.ts';
import { exportZipFrom } from '../fixtures/export-zip.ts';
import { runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'rk-cli-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rk-sync import', () => {
  it('imports a ZIP into a fresh data directory, idempotently, with a JSON report', async () => {
    const sim = await startSimulator({ activities: 30, seed: 41 });
    const userId = sim.users[0]!.userId;
    const docs = sim
      .activityIds(userId)
      .map((id) => sim.document(userId, 'fitnessActivities', id) as Record<string, unknown>);
    await sim.close();
    const zip = join(dir, 'runkeeper-data-export.zip');
    writeFileSync(zip, exportZipFrom(docs).zip);
    const dataDir = join(dir, 'data');
    const r = await runCli(['--data-dir', dataDir, '--json', 'import', zip, '--user-id', userId]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ userId, activities: 30, skipped: 0, errors: [] });
    expect(report.written).toBe(30);
    const csv = readFileSync(join(dataDir, 'index', userId, 'activities.csv'), 'utf8')
      .trim()
      .split(/\r?\n/);
    expect(csv).toHaveLength(31);
    const again = await runCli([
      '--data-dir',
      dataDir,
      '--json',
      'import',
      zip,
      '--user-id',
      userId,
    ]);
    expect(JSON.parse(again.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      written: 0,
      unchanged: 30,
    });
  });

  it('bad input: a missing file or a non-ZIP is one line and exit 2; nothing is written', async () => {
    const dataDir = join(dir, 'bad');
    const missing = await runCli(['--data-dir', dataDir, 'import', join(dir, 'nope.zip')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const junk = join(dir, 'junk.zip');
    writeFileSync(junk, 'not a zip at all');
    const r = await runCli(['--data-dir', dataDir, 'import', junk]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read .*junk\.zip as a ZIP/);
    expect(existsSync(join(dataDir, 'raw'))).toBe(false);
  });
});
