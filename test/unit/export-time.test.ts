import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeActivity } from '../../functions/core/export/activity.ts';
import {
  computeStartTime,
  formatStartTime,
  parseStartTime,
  resolveInZone,
  type WallClock,
  zoneOffsetMinutes,
} from '../../functions/core/export/time.ts';
import { activityAt } from '../fixtures/activities.ts';

const AMS = { lat: 52.37, lon: 4.89 };
const NYC = { lat: 40.71, lon: -74.0 };
const KTM = { lat: 27.7, lon: 85.32 };
const ADL = { lat: -34.93, lon: 138.6 };

describe('parseStartTime', () => {
  it('reads the API format with an unpadded day', () => {
    expect(parseStartTime('Sat, 4 May 2019 16:35:09')).toEqual({
      year: 2019,
      month: 5,
      day: 4,
      hour: 16,
      minute: 35,
      second: 9,
    });
    expect(parseStartTime('Sat, 15 Mar 2014 21:33:16')?.day).toBe(15);
    expect(parseStartTime('Sat, 1 Jun 2024 8:05:00')?.hour).toBe(8);
  });
  it('rejects impossible dates and garbage', () => {
    expect(parseStartTime('Sat, 31 Feb 2024 10:00:00')).toBeUndefined();
    expect(parseStartTime('Sat, 1 Foo 2024 10:00:00')).toBeUndefined();
    expect(parseStartTime('2024-03-01')).toBeUndefined();
    expect(parseStartTime('Sat, 1 Mar 2024 24:00:00')).toBeUndefined();
  });
  it('formats back to the API format', () => {
    const w = parseStartTime('Tue, 5 Mar 2024 07:15:00')!;
    expect(formatStartTime(w)).toBe('Tue, 5 Mar 2024 07:15:00');
  });
});

describe('computeStartTime', () => {
  it('the contract example: 07:15 local, offset +1 → 06:15Z, zone agrees', () => {
    const st = computeStartTime('Tue, 5 Mar 2024 07:15:00', 1, AMS)!;
    expect(st).toEqual({
      local: '2024-03-05T07:15:00',
      utcOffsetHours: 1,
      utc: '2024-03-05T06:15:00Z',
      zone: 'Europe/Amsterdam',
      zoneOffsetMinutes: 60,
      flags: [],
    });
  });

  it('Amsterdam spring-forward day: missing offset resolved DST-correctly', () => {
    const before = computeStartTime('Sun, 31 Mar 2024 01:30:00', undefined, AMS)!;
    expect(before.utc).toBe('2024-03-31T00:30:00Z');
    expect(before.zoneOffsetMinutes).toBe(60);
    const after = computeStartTime('Sun, 31 Mar 2024 12:00:00', undefined, AMS)!;
    expect(after.utc).toBe('2024-03-31T10:00:00Z');
    expect(after.zoneOffsetMinutes).toBe(120);
    expect(after.flags).toEqual(['offset-missing']);
  });

  it('a gap hour (02:30 does not exist) moves forward and is flagged', () => {
    const ams = computeStartTime('Sun, 31 Mar 2024 02:30:00', undefined, AMS)!;
    expect(ams.utc).toBe('2024-03-31T01:30:00Z');
    expect(ams.zoneOffsetMinutes).toBe(120);
    expect(ams.flags).toContain('local-time-in-gap');
    const ny = computeStartTime('Sun, 10 Mar 2024 2:30:00', undefined, NYC)!;
    expect(ny.utc).toBe('2024-03-10T07:30:00Z');
    expect(ny.zoneOffsetMinutes).toBe(-240);
    expect(ny.flags).toEqual(['offset-missing', 'local-time-in-gap']);
  });

  it('an ambiguous fall-back time resolves to the earlier instant', () => {
    const ams = computeStartTime('Sun, 27 Oct 2024 2:30:00', undefined, AMS)!;
    expect(ams.utc).toBe('2024-10-27T00:30:00Z');
    expect(ams.zoneOffsetMinutes).toBe(120);
    expect(ams.flags).toContain('local-time-ambiguous');
    const ny = computeStartTime('Sun, 3 Nov 2024 1:30:00', undefined, NYC)!;
    expect(ny.utc).toBe('2024-11-03T05:30:00Z');
    expect(ny.flags).toContain('local-time-ambiguous');
  });

  it('New York DST days with negative offsets', () => {
    const est = computeStartTime('Sun, 10 Mar 2024 1:30:00', -5, NYC)!;
    expect(est.utc).toBe('2024-03-10T06:30:00Z');
    expect(est.flags).toEqual([]);
    const edt = computeStartTime('Sun, 10 Mar 2024 3:30:00', -4, NYC)!;
    expect(edt.utc).toBe('2024-03-10T07:30:00Z');
    expect(edt.zoneOffsetMinutes).toBe(-240);
    expect(edt.flags).toEqual([]);
    const fallBack = computeStartTime('Sun, 3 Nov 2024 9:00:00', -5, NYC)!;
    expect(fallBack.utc).toBe('2024-11-03T14:00:00Z');
    expect(fallBack.flags).toEqual([]);
  });

  it('a stale offset across DST is flagged; the API offset stays authoritative', () => {
    const st = computeStartTime('Sun, 31 Mar 2024 12:00:00', 1, AMS)!;
    expect(st.utc).toBe('2024-03-31T11:00:00Z');
    expect(st.zoneOffsetMinutes).toBe(120);
    expect(st.flags).toEqual(['offset-zone-disagree']);
  });

  it('Asia/Kathmandu +5:45', () => {
    const st = computeStartTime('Fri, 1 Mar 2024 06:00:00', undefined, KTM)!;
    expect(st.zone).toBe('Asia/Kathmandu');
    expect(st.zoneOffsetMinutes).toBe(345);
    expect(st.utc).toBe('2024-03-01T00:15:00Z');
    const whole = computeStartTime('Fri, 1 Mar 2024 06:00:00', 6, KTM)!;
    expect(whole.utc).toBe('2024-03-01T00:00:00Z');
    expect(whole.flags).toEqual(['offset-zone-disagree']);
  });

  it('Australia/Adelaide +9:30 (winter) and +10:30 (summer) vs whole-hour offsets', () => {
    const winter = computeStartTime('Sat, 15 Jun 2024 07:00:00', undefined, ADL)!;
    expect(winter.zone).toBe('Australia/Adelaide');
    expect(winter.zoneOffsetMinutes).toBe(570);
    expect(winter.utc).toBe('2024-06-14T21:30:00Z');
    const summer = computeStartTime('Mon, 15 Jan 2024 07:00:00', undefined, ADL)!;
    expect(summer.zoneOffsetMinutes).toBe(630);
    expect(summer.utc).toBe('2024-01-14T20:30:00Z');
    for (const off of [9, 10]) {
      const st = computeStartTime('Sat, 15 Jun 2024 07:00:00', off, ADL)!;
      expect(st.utc).toBe(off === 9 ? '2024-06-14T22:00:00Z' : '2024-06-14T21:00:00Z');
      expect(st.flags).toEqual(['offset-zone-disagree']);
    }
    expect(computeStartTime('Sat, 15 Jun 2024 07:00:00', 9.5, ADL)!.flags).toEqual([]);
  });

  it('no offset and no position → utc undefined', () => {
    const st = computeStartTime('Mon, 4 Nov 2024 18:00:00', undefined)!;
    expect(st.utc).toBeUndefined();
    expect(st.zone).toBeUndefined();
    expect(st.flags).toEqual(['offset-missing', 'no-offset-no-position']);
  });

  it('offset without position needs no zone', () => {
    const st = computeStartTime('Mon, 4 Nov 2024 18:00:00', -8)!;
    expect(st).toEqual({
      local: '2024-11-04T18:00:00',
      utcOffsetHours: -8,
      utc: '2024-11-05T02:00:00Z',
      flags: [],
    });
  });

  it('normalizeActivity takes the zone from the first valid point (skipping 0/0)', () => {
    const raw = activityAt('Sat, 15 Jun 2024 07:00:00', undefined, -34.93, 138.6);
    (raw.path as unknown[]).unshift({ timestamp: 0, latitude: 0, longitude: 0, type: 'start' });
    const act = normalizeActivity(raw);
    expect(act.start.zone).toBe('Australia/Adelaide');
    expect(act.startMs).toBe(Date.parse('2024-06-14T21:30:00Z'));
  });
});

const wallClockIn = (zone: string, ms: number): WallClock => {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
};

describe('resolveInZone (property)', () => {
  it('inverts the zone’s own wall clock; ambiguous times pick the earlier instant', () => {
    const zones = [
      'Europe/Amsterdam',
      'America/New_York',
      'Asia/Kathmandu',
      'Australia/Adelaide',
      'Australia/Lord_Howe',
      'America/St_Johns',
      'Pacific/Chatham',
      'UTC',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: Date.UTC(2000, 0, 1) / 1000, max: Date.UTC(2035, 0, 1) / 1000 }),
        (zone, secs) => {
          const ms = secs * 1000;
          const r = resolveInZone(wallClockIn(zone, ms), zone);
          expect(r.gap).toBe(false);
          if (r.ambiguous) expect(r.ms).toBeLessThanOrEqual(ms);
          else expect(r.ms).toBe(ms);
          expect(r.offsetMinutes).toBe(zoneOffsetMinutes(zone, r.ms));
        },
      ),
      { numRuns: 500 },
    );
  });
});
