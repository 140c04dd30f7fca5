/**
 * What one archived activity becomes on Strava: sport type, name, description, and either an
 * activity file (FIT preferred, else GPX or TCX, gzip-compressed) or a manual entry.
 * Nothing is invented: a file is uploaded only when the UTC start is known (file timestamps
 * are absolute); otherwise the activity becomes a manual entry at its local start time, and
 * a value the archive lacks (distance, description) is simply not sent.
 */
import { gzipSync } from 'node:zlib';
import type { Activity } from '../export/activity.ts';
import { renderGpx } from '../export/gpx.ts';
import { renderTcx } from '../export/tcx.ts';

/** Strava `sport_type` and trainer flag for a Runkeeper activity type (and equipment). */
export function stravaSport(
  type: string,
  equipment?: string,
): { sportType: string; trainer: boolean } {
  const t = type.trim().toLowerCase();
  const indoor = ['treadmill', 'elliptical', 'stationary bike'].includes(
    (equipment ?? '').toLowerCase(),
  );
  const map: Record<string, string> = {
    running: 'Run',
    cycling: 'Ride',
    'mountain biking': 'MountainBikeRide',
    spinning: 'Ride',
    walking: 'Walk',
    'nordic walking': 'Walk',
    hiking: 'Hike',
    swimming: 'Swim',
    rowing: 'Rowing',
    elliptical: 'Elliptical',
    'arc trainer': 'Elliptical',
    'stairmaster / stepwell': 'StairStepper',
    'cross-country skiing': 'NordicSki',
    'downhill skiing': 'AlpineSki',
    snowboarding: 'Snowboard',
    skating: 'IceSkate',
    wheelchair: 'Wheelchair',
    yoga: 'Yoga',
    pilates: 'Pilates',
    crossfit: 'Crossfit',
    'strength training': 'WeightTraining',
  };
  return {
    sportType: map[t] ?? 'Workout',
    trainer: indoor || t === 'spinning' || t === 'elliptical' || t === 'stairmaster / stepwell',
  };
}

/** Route name when the archive has one (export ZIP), else "<type> <local date>". */
export function stravaName(act: Activity, raw: unknown): string {
  const route = (raw as { rk_export?: { route_name?: unknown } } | undefined)?.rk_export
    ?.route_name;
  if (typeof route === 'string' && route.trim()) return route.trim().slice(0, 255);
  return `${act.type || 'Activity'} ${act.start.local.slice(0, 10)}`;
}

export type DataType = 'fit.gz' | 'gpx.gz' | 'tcx.gz';
export type FilePreference = 'fit' | 'gpx' | 'tcx';

export interface UploadFile {
  bytes: Uint8Array;
  dataType: DataType;
  filename: string;
}

export type FitRenderer = (act: Activity) => Uint8Array | undefined;

/** The file to upload, or undefined when the activity must be a manual entry. */
export function uploadFile(
  act: Activity,
  prefer: FilePreference,
  renderFit?: FitRenderer,
): UploadFile | undefined {
  if (!act.hasPath || act.segments.length === 0 || act.startMs === undefined) return undefined;
  const gz = (b: Uint8Array | string) =>
    new Uint8Array(gzipSync(typeof b === 'string' ? Buffer.from(b, 'utf8') : b));
  const order: FilePreference[] =
    prefer === 'fit' ? ['fit', 'tcx', 'gpx'] : prefer === 'tcx' ? ['tcx', 'gpx'] : ['gpx', 'tcx'];
  for (const kind of order) {
    if (kind === 'fit' && renderFit) {
      const b = renderFit(act);
      if (b) return { bytes: gz(b), dataType: 'fit.gz', filename: `${act.id}.fit.gz` };
    }
    if (kind === 'tcx')
      return { bytes: gz(renderTcx(act)), dataType: 'tcx.gz', filename: `${act.id}.tcx.gz` };
    if (kind === 'gpx') {
      const g = renderGpx(act);
      if (g) return { bytes: gz(g), dataType: 'gpx.gz', filename: `${act.id}.gpx.gz` };
    }
  }
  return undefined;
}

/** The form of POST /activities for a manual entry, or a reason it cannot be one. */
export function manualEntry(
  act: Activity,
  raw: unknown,
): { form: URLSearchParams } | { reason: string } {
  const elapsed = Math.round(act.totals.durationSeconds || act.elapsedSeconds);
  if (!(elapsed > 0))
    return { reason: 'no duration in the archive (Strava requires elapsed_time)' };
  const { sportType, trainer } = stravaSport(act.type, act.equipment);
  const form = new URLSearchParams({
    name: stravaName(act, raw),
    sport_type: sportType,
    start_date_local: `${act.start.local}Z`, // Strava's documented form: local wall clock, written with Z
    elapsed_time: String(elapsed),
  });
  if (act.totals.distanceMeters > 0) form.set('distance', String(act.totals.distanceMeters));
  if (act.notes) form.set('description', act.notes);
  if (trainer) form.set('trainer', '1');
  return { form };
}

/** external_id: Strava refuses a second upload carrying it (and it finds the activity again). */
export function externalId(userId: string, id: string, dataType: DataType): string {
  return `rk-sync-${userId}-${id}.${dataType.replace(/\.gz$/, '')}`;
}

/** The activity id in Strava's "… duplicate of activity 123" upload error, if that is what it says. */
export function duplicateOf(error: string): string | undefined {
  return /duplicate of (?:activity\s*)?(?:<a[^>]*>)?\s*(\d{1,20})/i.exec(error)?.[1];
}
