/**
 * FIT (Garmin Flexible and Interoperable Data Transfer) activity files, encoded with Garmin's
 * official JavaScript SDK (`@garmin/fitsdk`).
 *
 * CLI only (`rk-sync export --fit`): the SDK's profile alone is ~1 MB, over the Lambda bundle
 * budget, so nothing reachable from `functions/handlers/*` (derive.ts, the fetcher) may
 * import this module.
 *
 * Message order, as a device writes it: file_id, device_info (creator), event timer start,
 * then per moving segment its `record`s, an event timer stop_all at the pause and a `lap`
 * (one lap per segment, calories apportioned like TCX), a timer start at each resume; finally
 * one `session` and one `activity`. A manual entry (no path) is a summary only: one lap, one
 * session, no records. FIT timestamps are absolute (whole UTC seconds): without a known UTC
 * start there is no file.
 */

import type {
  ActivityMesg,
  DeviceInfoMesg,
  EventMesg,
  FileIdMesg,
  LapMesg,
  Mesg,
  RecordMesg,
  SessionMesg,
  Types,
} from '@garmin/fitsdk';
import { Encoder, Profile, Utils } from '@garmin/fitsdk';
import { describeError } from '../errors.ts';
import { derivedKey } from '../keys.ts';
import type { Log, ObjectStore } from '../ports.ts';
import {
  type Activity,
  distanceFn,
  knownDistance,
  normalizeActivity,
  type Segment,
  valueAt,
} from './activity.ts';
import { rawActivities } from './derive.ts';
import { HR_MAX_GAP_S, isActivity } from './gpx.ts';
import { apportion } from './tcx.ts';

const MESG = Profile.MesgNum as Record<
  'FILE_ID' | 'DEVICE_INFO' | 'EVENT' | 'RECORD' | 'LAP' | 'SESSION' | 'ACTIVITY',
  number
>;

/** FIT sport and sub-sport for a Runkeeper activity type (and its equipment). */
export function fitSport(
  type: string,
  equipment?: string,
): { sport: Types.Sport; subSport: Types.SubSport } {
  const t = type.toLowerCase();
  const treadmill = equipment?.toLowerCase() === 'treadmill';
  switch (t) {
    case 'running':
      return { sport: 'running', subSport: treadmill ? 'treadmill' : 'generic' };
    case 'cycling':
      return { sport: 'cycling', subSport: 'generic' };
    case 'mountain biking':
      return { sport: 'cycling', subSport: 'mountain' };
    case 'spinning':
      return { sport: 'cycling', subSport: 'indoorCycling' };
    case 'walking':
    case 'nordic walking':
      return { sport: 'walking', subSport: treadmill ? 'indoorWalking' : 'generic' };
    case 'hiking':
      return { sport: 'hiking', subSport: 'generic' };
    case 'swimming':
      return { sport: 'swimming', subSport: 'generic' };
    case 'rowing':
      return { sport: 'rowing', subSport: 'generic' };
    case 'elliptical':
      return { sport: 'fitnessEquipment', subSport: 'elliptical' };
    case 'stairmaster / stepwell':
      return { sport: 'fitnessEquipment', subSport: 'stairClimbing' };
    case 'cross-country skiing':
      return { sport: 'crossCountrySkiing', subSport: 'generic' };
    case 'downhill skiing':
      return { sport: 'alpineSkiing', subSport: 'generic' };
    case 'snowboarding':
      return { sport: 'snowboarding', subSport: 'generic' };
    case 'strength training':
    case 'circuit training':
    case 'core strengthening':
    case 'crossfit':
      return { sport: 'training', subSport: 'strengthTraining' };
    case 'yoga':
      return { sport: 'training', subSport: 'yoga' };
    case 'pilates':
      return { sport: 'training', subSport: 'pilates' };
    case 'boxing / mma':
      return { sport: 'boxing', subSport: 'generic' };
    case 'meditation':
      return { sport: 'meditation', subSport: 'generic' };
    default:
      return { sport: 'generic', subSport: 'generic' };
  }
}

const SEMICIRCLES_PER_DEGREE = 2 ** 31 / 180;
const SINT32_MAX = 2 ** 31 - 1;

/** Degrees → FIT semicircles (sint32). */
export function semicircles(deg: number): number {
  return Math.max(-SINT32_MAX, Math.min(SINT32_MAX, Math.round(deg * SEMICIRCLES_PER_DEGREE)));
}

/** FIT date_time: whole seconds since 1989-12-31T00:00:00Z. */
function fitTime(ms: number): number {
  return Math.round((ms - Utils.FIT_EPOCH_MS) / 1000);
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));
/** uint8 heart rate, 255 being FIT's "invalid". */
const bpm = (n: number) => clamp(Math.round(n), 1, 254);

function hrStats(act: Activity, from: number, to: number): { avg?: number; max?: number } {
  let sum = 0;
  let n = 0;
  let max = 0;
  for (const s of act.heartRate) {
    if (s.t < from || s.t > to) continue;
    sum += s.v;
    n++;
    max = Math.max(max, s.v);
  }
  return n === 0 ? {} : { avg: bpm(sum / n), max: bpm(max) };
}

/** Record altitude is uint16 with scale 5 and offset 500: −500 m … 12 606 m. */
function altitude(alt: number | undefined): number | undefined {
  return alt !== undefined && alt >= -500 && alt <= 12_606 ? alt : undefined;
}

/**
 * A FIT activity file for an activity, or undefined when its UTC start is unknown (FIT
 * timestamps are absolute). Same input, same bytes (time_created is the activity start).
 */
export function renderFit(input: Activity | unknown): Uint8Array | undefined {
  const act = isActivity(input) ? input : normalizeActivity(input);
  if (act.startMs === undefined) return undefined;
  const startMs = act.startMs;
  const at = (t: number) => fitTime(startMs + t * 1000);
  const start = at(0);
  const { sport, subSport } = fitSport(act.type, act.equipment);
  // Unknown calories stay unknown (FIT fields are optional), never 0.
  const totalCalories =
    act.totals.calories === undefined
      ? undefined
      : clamp(Math.round(act.totals.calories), 0, 65_535);
  const dist = distanceFn(act);
  const first = act.path[0];

  const enc = new Encoder();
  // Each call's `satisfies XMesg` checks the field names (the SDK's parameter is the base Mesg).
  const write = (mesgNum: number, mesg: object) => enc.onMesg(mesgNum, mesg as Mesg);
  write(MESG.FILE_ID, {
    type: 'activity',
    manufacturer: 'development',
    product: 0,
    timeCreated: start,
    productName: 'rk-sync',
  } satisfies FileIdMesg);
  write(MESG.DEVICE_INFO, {
    timestamp: start,
    deviceIndex: 'creator',
    manufacturer: 'development',
    product: 0,
    productName: 'rk-sync',
  } satisfies DeviceInfoMesg);
  const timer = (t: number, eventType: 'start' | 'stopAll') =>
    write(MESG.EVENT, {
      timestamp: at(t),
      event: 'timer',
      eventType,
      eventGroup: 0,
    } satisfies EventMesg);

  let laps = 0;
  const lap = (
    fromT: number,
    seconds: number,
    meters: number | undefined,
    calories: number | undefined,
    hr: { avg?: number; max?: number },
    seg: Segment | undefined,
    last: boolean,
  ) => {
    const a = seg?.points[0];
    const b = seg?.points.at(-1);
    write(MESG.LAP, {
      messageIndex: laps++,
      timestamp: at(fromT + seconds),
      event: 'lap',
      eventType: 'stop',
      startTime: at(fromT),
      ...(a && { startPositionLat: semicircles(a.lat), startPositionLong: semicircles(a.lon) }),
      ...(b && { endPositionLat: semicircles(b.lat), endPositionLong: semicircles(b.lon) }),
      totalElapsedTime: seconds,
      totalTimerTime: seconds,
      totalDistance: meters,
      totalCalories: calories,
      ...(seconds > 0 && meters !== undefined && { avgSpeed: meters / seconds }),
      avgHeartRate: hr.avg,
      maxHeartRate: hr.max,
      lapTrigger: last ? 'sessionEnd' : 'manual',
      sport,
      subSport,
    } satisfies LapMesg);
  };

  let timerSeconds: number;
  let endT: number;
  if (act.segments.length === 0) {
    // Manual entry: summary only.
    timerSeconds = act.totals.durationSeconds;
    endT = timerSeconds;
    timer(0, 'start');
    timer(endT, 'stopAll');
    const max = act.heartRate.reduce((m, s) => Math.max(m, s.v), 0);
    lap(
      0,
      timerSeconds,
      knownDistance(act),
      totalCalories,
      {
        ...(act.totals.averageHeartRate !== undefined && {
          avg: bpm(act.totals.averageHeartRate),
        }),
        ...(max > 0 && { max: bpm(max) }),
      },
      undefined,
      true,
    );
  } else {
    const cals =
      totalCalories === undefined
        ? []
        : apportion(
            totalCalories,
            act.segments.map((s) => s.duration),
          );
    act.segments.forEach((seg, i) => {
      timer(seg.start, 'start');
      for (const p of seg.points) {
        const hr = valueAt(act.heartRate, p.t, HR_MAX_GAP_S);
        const d = dist(p.t);
        write(MESG.RECORD, {
          timestamp: at(p.t),
          positionLat: semicircles(p.lat),
          positionLong: semicircles(p.lon),
          altitude: altitude(p.alt),
          heartRate: hr === undefined ? undefined : bpm(hr),
          distance: d === undefined ? undefined : Math.max(0, d),
        } satisfies RecordMesg);
      }
      timer(seg.end, 'stopAll');
      const d0 = dist(seg.start) ?? 0;
      const d1 = dist(seg.end) ?? d0;
      const last = i === act.segments.length - 1;
      lap(
        seg.start,
        seg.duration,
        Math.max(0, d1 - d0),
        cals[i],
        hrStats(act, seg.start, seg.end),
        seg,
        last,
      );
    });
    timerSeconds = act.movingSeconds;
    endT = act.segments.at(-1)!.end;
  }

  const elapsed = Math.max(endT, timerSeconds);
  const end = at(elapsed);
  const meters = knownDistance(act); // unknown stays unknown (FIT fields are optional)
  const maxHr = act.heartRate.reduce((m, s) => Math.max(m, s.v), 0);
  write(MESG.SESSION, {
    messageIndex: 0,
    timestamp: end,
    event: 'session',
    eventType: 'stop',
    startTime: start,
    ...(first && {
      startPositionLat: semicircles(first.lat),
      startPositionLong: semicircles(first.lon),
    }),
    sport,
    subSport,
    totalElapsedTime: elapsed,
    totalTimerTime: timerSeconds,
    totalDistance: meters,
    totalCalories,
    ...(timerSeconds > 0 && meters !== undefined && { avgSpeed: meters / timerSeconds }),
    avgHeartRate:
      act.totals.averageHeartRate === undefined ? undefined : bpm(act.totals.averageHeartRate),
    maxHeartRate: maxHr > 0 ? bpm(maxHr) : undefined,
    totalAscent:
      act.totals.climbMeters === undefined
        ? undefined
        : clamp(Math.round(act.totals.climbMeters), 0, 65_534),
    firstLapIndex: 0,
    numLaps: laps,
    trigger: 'activityEnd',
  } satisfies SessionMesg);
  const offsetSeconds =
    act.start.utcOffsetHours !== undefined
      ? Math.round(act.start.utcOffsetHours * 3600)
      : act.start.zoneOffsetMinutes !== undefined
        ? act.start.zoneOffsetMinutes * 60
        : undefined;
  write(MESG.ACTIVITY, {
    timestamp: end,
    totalTimerTime: timerSeconds,
    numSessions: 1,
    type: 'manual',
    event: 'activity',
    eventType: 'stop',
    ...(offsetSeconds !== undefined && { localTimestamp: end + offsetSeconds }),
  } satisfies ActivityMesg);
  return enc.close();
}

/**
 * `rk-sync export --fit`: a FIT file next to the GPX/TCX of every raw fitness activity of a
 * user. Activities without a known UTC start are skipped (counted), unreadable ones fail
 * (counted and logged); neither stops the run.
 */
export async function writeFitFiles(
  store: ObjectStore,
  userId: string,
  log: Log,
): Promise<{ fit: number; fitSkipped: number; fitFailed: number }> {
  let fit = 0;
  let fitSkipped = 0;
  let fitFailed = 0;
  for await (const { id, key, bytes } of rawActivities(store, userId)) {
    try {
      const body = renderFit(JSON.parse(new TextDecoder().decode(bytes)));
      if (!body) {
        fitSkipped++;
        continue;
      }
      const fitKey = derivedKey('fit', userId, { feed: 'fitnessActivities', id }, 'fit');
      await store.put(fitKey, body, 'application/vnd.ant.fit');
      fit++;
    } catch (e) {
      fitFailed++;
      log.warn('could not render a FIT file', { key, error: describeError(e) });
    }
  }
  return { fit, fitSkipped, fitFailed };
}
