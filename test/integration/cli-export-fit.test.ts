/** `rk-sync export --fit` end to end: import a tiny export ZIP, then FIT files that decode. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder, Stream } from '@garmin/fitsdk';
import { afterAll, describe, expect, it } from 'vitest';
import { contractActivity, pausedActivity } from '../fixtures/activities.ts';
import { exportZipFrom } from '../fixtures/export-zip.ts';
import { allFiles, killAllChildren, runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'rk-cli-fit-'));
afterAll(() => {
  killAllChildren();
  rmSync(dir, { recursive: true, force: true });
});

describe('rk-sync export --fit', () => {
  it('writes fit/{userId}/fitnessActivities/{id}.fit for every raw activity, each a valid FIT file', async () => {
    const zip = join(dir, 'export.zip');
    writeFileSync(zip, exportZipFrom([contractActivity(), pausedActivity()]).zip);
    const dataDir = join(dir, 'data');
    const imp = await runCli(['--data-dir', dataDir, '--json', 'import', zip, '--user-id', '1']);
    expect(imp.code, imp.stderr).toBe(0);

    const plain = await runCli(['--data-dir', dataDir, '--json', 'export']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout.trim().split('\n').at(-1)!).users[0]).not.toHaveProperty('fit');
    expect(existsSync(join(dataDir, 'fit'))).toBe(false);

    const r = await runCli(['--data-dir', dataDir, '--json', 'export', '--fit']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(report.users).toEqual([
      expect.objectContaining({ userId: '1', rendered: 2, fit: 2, fitSkipped: 0, fitFailed: 0 }),
    ]);
    const fits = allFiles(join(dataDir, 'fit', '1', 'fitnessActivities'));
    expect(fits).toHaveLength(2);
    for (const f of fits) {
      expect(f).toMatch(/^[0-9]+\.fit$/);
      const stream = Stream.fromByteArray(
        Array.from(readFileSync(join(dataDir, 'fit', '1', 'fitnessActivities', f))),
      );
      const decoder = new Decoder(stream);
      expect(decoder.isFIT()).toBe(true);
      expect(decoder.checkIntegrity()).toBe(true);
      const { messages, errors } = decoder.read();
      expect(errors).toEqual([]);
      expect(messages.sessionMesgs).toHaveLength(1);
      expect(messages.recordMesgs?.length ?? 0).toBeGreaterThan(0);
    }
  });
});
