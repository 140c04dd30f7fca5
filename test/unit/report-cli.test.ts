/**
 * The local hooks: the index refresh at the end of `rk-sync sync` also writes the report, and
 * the report command finds users whose archive came from `import` alone (no linked account).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { settleDerived } from '../../cli/derived-state.ts';
import { openLocal } from '../../cli/local.ts';
import { archiveUsers } from '../../cli/report.ts';
import { writeDerived } from '../../functions/core/export/derive.ts';
import { silentLog } from '../../functions/core/ports.ts';
import { contractActivity } from '../fixtures/activities.ts';

const dir = mkdtempSync(join(tmpdir(), 'rk-report-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('local report hooks', () => {
  it("sync's index refresh writes report/{userId}/index.html; import-only users are found", async () => {
    const stores = openLocal(join(dir, 'data'));
    try {
      const raw = contractActivity();
      const enc = new TextEncoder();
      await stores.store.put(
        'raw/40012345/fitnessActivities/900000003.json',
        enc.encode(JSON.stringify(raw)),
        'application/json',
      );
      await writeDerived(stores.store, '40012345', raw);
      expect(await archiveUsers(stores)).toEqual(['40012345']);
      const file = join(stores.dataDir, 'report', '40012345', 'index.html');
      expect(existsSync(file)).toBe(false);
      await settleDerived(stores, ['40012345'], silentLog, { changed: true, owed: new Set() });
      const html = readFileSync(file, 'utf8');
      expect(html).toContain('"notes":"Short test loop"');
      expect(html).toContain('id="d900000003"');
    } finally {
      stores.close();
    }
  });
});
