/**
 * Issue #12: the test setup installs exact PyPI versions, and the environment the suite just
 * ran its setup in is at those versions (scripts/test.ts ensures them before vitest starts).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PYPI_PINS, python } from '../../scripts/python-tools.ts';

describe('pinned Python tools', () => {
  it('every pin is an exact version, and moto and cfn-lint are installed at it', () => {
    for (const v of Object.values(PYPI_PINS)) expect(v).toMatch(/^\d+\.\d+\.\d+$/);
    for (const dist of ['moto', 'cfn-lint'] as const) {
      const r = spawnSync(
        python(),
        ['-c', `import importlib.metadata as m; print(m.version('${dist}'))`],
        { encoding: 'utf8' },
      );
      expect([dist, r.stdout.trim()]).toEqual([dist, PYPI_PINS[dist]]);
    }
  });
});
