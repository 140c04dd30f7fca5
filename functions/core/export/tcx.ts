/**
 * TCX (Training Center Database v2) rendering of one activity.
 *
 * One Lap per moving segment; a manual entry (or a path without any moving segment) gets a
 * single summary Lap without Track. Element order follows the TCX v2 XSD:
 * Activity: Id, Lap+, Notes; Lap: TotalTimeSeconds, DistanceMeters, Calories,
 * AverageHeartRateBpm, MaximumHeartRateBpm, Intensity, TriggerMethod, Track;
 * Trackpoint: Time, Position, AltitudeMeters, DistanceMeters, HeartRateBpm.
 *
 * TCX requires times. When the UTC start is unknown (no offset, no position: the index row is
 * flagged `no-offset-no-position`) every time is the local wall clock written WITHOUT a zone
 * designator (`2019-05-04T16:35:09`, an xsd:dateTime meaning "zone unknown"), never as UTC;
 * the document says so in a comment. Lap Calories is required by the schema: 0 when unknown.
 */

import { type Activity, distanceFn, normalizeActivity, valueAt } from './activity.ts';
import { fmt, HR_MAX_GAP_S, isActivity, XSI_NS, xmlSafe } from './gpx.ts';
import { isoUtc } from './time.ts';
import { create } from './xml.ts';

export const TCX_NS = 'http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2';
const SCHEMA_LOCATION = `${TCX_NS} http://www.garmin.com/xmlschemas/TrainingCenterDatabasev2.xsd`;

/** TCX knows three sports only. */
export function tcxSport(type: string): 'Running' | 'Biking' | 'Other' {
  const t = type.toLowerCase();
  if (t === 'running') return 'Running';
  if (t === 'cycling' || t === 'mountain biking' || t === 'spinning') return 'Biking';
  return 'Other';
}

/** Splits an integer total over weights, preserving the sum (largest remainder). */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((s, w) => s + w, 0);
  if (weights.length === 0) return [];
  if (sum <= 0) return weights.map((_, i) => (i === 0 ? total : 0));
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let rest = total - out.reduce((s, x) => s + x, 0);
  const order = exact
    .map((x, i) => ({ i, r: x - Math.floor(x) }))
    .sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (rest <= 0) break;
    out[i]! += 1;
    rest -= 1;
  }
  return out;
}

interface LapData {
  startMs: number;
  seconds: number;
  meters: number;
  calories: number;
  avgHr: number | undefined;
  maxHr: number | undefined;
  segment: Activity['segments'][number] | undefined;
}

function hrStats(act: Activity, from: number, to: number): { avg?: number; max?: number } {
  const inWindow = act.heartRate.filter((s) => s.t >= from && s.t <= to);
  if (inWindow.length === 0) return {};
  return {
    avg: Math.round(inWindow.reduce((s, x) => s + x.v, 0) / inWindow.length),
    max: Math.round(Math.max(...inWindow.map((s) => s.v))),
  };
}

function byte(n: number): string {
  return String(Math.min(255, Math.max(1, Math.round(n))));
}

/** TCX v2 document for an activity (always produced). */
export function renderTcx(input: Activity | unknown): string {
  const act = isActivity(input) ? input : normalizeActivity(input);
  const timeKnown = act.startMs !== undefined;
  const startMs = act.startMs ?? Date.parse(`${act.start.local}Z`);
  const totalCalories = Math.max(0, Math.round(act.totals.calories ?? 0));
  const dist = distanceFn(act);

  const laps: LapData[] = [];
  if (act.segments.length === 0) {
    laps.push({
      startMs,
      seconds: act.totals.durationSeconds,
      meters: act.totals.distanceMeters,
      calories: totalCalories,
      avgHr: act.totals.averageHeartRate,
      maxHr: act.heartRate.length > 0 ? Math.max(...act.heartRate.map((s) => s.v)) : undefined,
      segment: undefined,
    });
  } else {
    const cals = apportion(
      totalCalories,
      act.segments.map((s) => s.duration),
    );
    act.segments.forEach((seg, i) => {
      const d0 = dist(seg.start) ?? 0;
      const d1 = dist(seg.end) ?? d0;
      const hr = hrStats(act, seg.start, seg.end);
      laps.push({
        startMs: startMs + seg.start * 1000,
        seconds: seg.duration,
        meters: Math.max(0, d1 - d0),
        calories: cals[i] ?? 0,
        avgHr: hr.avg,
        maxHr: hr.max,
        segment: seg,
      });
    });
  }

  const doc = create({ version: '1.0', encoding: 'UTF-8' });
  if (!timeKnown) {
    doc.com(' time zone unknown: times are local wall-clock time without a zone designator ');
  }
  // Unknown UTC start: the wall clock without "Z" (xsd:dateTime with no zone), never as UTC.
  const stamp = (ms: number) => (timeKnown ? isoUtc(ms) : isoUtc(ms).replace(/Z$/, ''));
  const root = doc.ele(TCX_NS, 'TrainingCenterDatabase', {
    'xmlns:xsi': XSI_NS,
    'xsi:schemaLocation': SCHEMA_LOCATION,
  });
  const activity = root.ele('Activities').ele('Activity', { Sport: tcxSport(act.type) });
  activity.ele('Id').txt(stamp(startMs));
  for (const lap of laps) {
    const l = activity.ele('Lap', { StartTime: stamp(lap.startMs) });
    l.ele('TotalTimeSeconds').txt(fmt(lap.seconds, 3));
    l.ele('DistanceMeters').txt(fmt(lap.meters, 2));
    l.ele('Calories').txt(String(Math.min(65535, lap.calories)));
    if (lap.avgHr !== undefined) l.ele('AverageHeartRateBpm').ele('Value').txt(byte(lap.avgHr));
    if (lap.maxHr !== undefined) l.ele('MaximumHeartRateBpm').ele('Value').txt(byte(lap.maxHr));
    l.ele('Intensity').txt('Active');
    l.ele('TriggerMethod').txt('Manual');
    if (lap.segment) {
      const track = l.ele('Track');
      for (const p of lap.segment.points) {
        const tp = track.ele('Trackpoint');
        tp.ele('Time').txt(stamp(startMs + p.t * 1000));
        const pos = tp.ele('Position');
        pos.ele('LatitudeDegrees').txt(fmt(p.lat, 7));
        pos.ele('LongitudeDegrees').txt(fmt(p.lon, 7));
        if (p.alt !== undefined) tp.ele('AltitudeMeters').txt(fmt(p.alt, 2));
        const d = dist(p.t);
        if (d !== undefined) tp.ele('DistanceMeters').txt(fmt(d, 2));
        const hr = valueAt(act.heartRate, p.t, HR_MAX_GAP_S);
        if (hr !== undefined) tp.ele('HeartRateBpm').ele('Value').txt(byte(hr));
      }
    }
  }
  if (act.notes) activity.ele('Notes').txt(xmlSafe(act.notes));
  return doc.end({ prettyPrint: true });
}
