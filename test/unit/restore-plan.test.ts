/** planRestore: which S3 version `rk-sync restore` brings back, and how (undelete vs copy). */
import { describe, expect, it } from 'vitest';
import { type ObjectVersion, planRestore } from '../../functions/core/restore/plan.ts';

const v = (versionId: string, t: number, sha256: string, isLatest = false): ObjectVersion => ({
  versionId,
  deleteMarker: false,
  isLatest,
  lastModified: t,
  sha256,
});
const marker = (versionId: string, t: number, isLatest = false): ObjectVersion => ({
  versionId,
  deleteMarker: true,
  isLatest,
  lastModified: t,
});

describe('planRestore', () => {
  it('intact: the ledger revision is current', () => {
    const p = planRestore([v('b', 2, 'hb', true), v('a', 1, 'ha')], { versionId: 'b' });
    expect(p).toMatchObject({ action: 'intact', target: { versionId: 'b' } });
  });

  it('deleted: removes the delete markers newer than the revision (same second included)', () => {
    const versions = [v('a', 5, 'ha'), marker('m2', 9, true), marker('m1', 5), marker('old', 1)];
    const p = planRestore(versions, { versionId: 'a', sha256: 'ha' });
    expect(p.action).toBe('undelete');
    if (p.action !== 'undelete') return;
    expect(p.target.versionId).toBe('a');
    expect(p.markers.map((m) => m.versionId)).toEqual(['m2', 'm1']);
  });

  it('overwritten: copies the ledger revision on top and keeps the overwrite as history', () => {
    const p = planRestore([v('x', 3, 'hx', true), v('a', 1, 'ha')], { versionId: 'a' });
    expect(p).toMatchObject({ action: 'copy', target: { versionId: 'a' } });
  });

  it('overwritten, then deleted: still a copy (an undelete would surface the overwrite)', () => {
    const versions = [v('x', 3, 'hx'), v('a', 1, 'ha'), marker('m', 4, true)];
    expect(planRestore(versions, { versionId: 'a' })).toMatchObject({
      action: 'copy',
      target: { versionId: 'a' },
    });
  });

  it('finds the revision by sha256 when its version id is gone (an earlier restore copied it)', () => {
    const p = planRestore([v('x', 3, 'hx', true), v('c', 2, 'ha')], {
      versionId: 'a',
      sha256: 'ha',
    });
    expect(p).toMatchObject({ action: 'copy', target: { versionId: 'c' } });
  });

  it('by key alone: the newest stored version', () => {
    expect(planRestore([v('b', 2, 'hb'), marker('m', 3, true)], {})).toMatchObject({
      action: 'undelete',
      target: { versionId: 'b' },
    });
  });

  it('missing: nothing stored, or no version matches the ledger', () => {
    expect(planRestore([], {}).action).toBe('missing');
    expect(planRestore([v('x', 1, 'hx', true)], { versionId: 'a', sha256: 'ha' }).action).toBe(
      'missing',
    );
  });
});
