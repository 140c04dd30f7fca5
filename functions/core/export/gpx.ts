/**
 * GPX 1.1 rendering of one activity.
 *
 * One `<trk>`, one `<trkseg>` per moving segment (pauses split segments), heart rate per
 * point in the Garmin TrackPointExtension v2 when the activity has HR samples. Child
 * order follows the GPX 1.1 XSD (trk: name, cmt, desc, src, link, number, type,
 * extensions, trkseg; trkpt: ele, time, …, extensions).
 *
 * When the UTC start is unknown (no `utc_offset` and no position — which cannot happen for
 * an activity that has a path unless tz-lookup fails), `<time>` elements are omitted
 * rather than writing local wall-clock time as if it were UTC.
 */

import { type Activity, normalizeActivity, valueAt } from './activity.ts';
import { isoUtc } from './time.ts';
import { create } from './xml.ts';

export const GPX_NS = 'http://www.topografix.com/GPX/1/1';
export const GPXTPX_NS = 'http://www.garmin.com/xmlschemas/TrackPointExtension/v2';
export const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
const SCHEMA_LOCATION = [
  GPX_NS,
  'http://www.topografix.com/GPX/1/1/gpx.xsd',
  GPXTPX_NS,
  'https://www8.garmin.com/xmlschemas/TrackPointExtensionv2.xsd',
].join(' ');

/** Seconds of distance to the nearest HR sample beyond which no HR is written. */
export const HR_MAX_GAP_S = 30;

/** Numbers without float noise: at most `digits` decimals, trailing zeros trimmed. */
export function fmt(n: number, digits: number): string {
  const s = n.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** Removes characters XML 1.0 cannot carry (control characters, lone surrogates). */
export function xmlSafe(s: string): string {
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '').toWellFormed();
}

/** GPX 1.1 document for an activity, or undefined when it has no moving segment with points. */
export function renderGpx(input: Activity | unknown): string | undefined {
  const act = isActivity(input) ? input : normalizeActivity(input);
  if (act.segments.length === 0) return undefined;
  const hasHr = act.heartRate.length > 0;
  const root = create({ version: '1.0', encoding: 'UTF-8' }).ele(GPX_NS, 'gpx', {
    version: '1.1',
    creator: 'rk-sync',
    'xmlns:gpxtpx': GPXTPX_NS,
    'xmlns:xsi': XSI_NS,
    'xsi:schemaLocation': SCHEMA_LOCATION,
  });
  if (act.startMs !== undefined) {
    root.ele('metadata').ele('time').txt(isoUtc(act.startMs));
  }
  const trk = root.ele('trk');
  trk.ele('name').txt(xmlSafe(`${act.type} ${act.start.local.replace('T', ' ')}`));
  if (act.notes) trk.ele('desc').txt(xmlSafe(act.notes));
  if (act.source) trk.ele('src').txt(xmlSafe(act.source));
  trk.ele('type').txt(xmlSafe(act.type));
  for (const seg of act.segments) {
    const trkseg = trk.ele('trkseg');
    for (const p of seg.points) {
      const pt = trkseg.ele('trkpt', { lat: fmt(p.lat, 7), lon: fmt(p.lon, 7) });
      if (p.alt !== undefined) pt.ele('ele').txt(fmt(p.alt, 2));
      if (act.startMs !== undefined) pt.ele('time').txt(isoUtc(act.startMs + p.t * 1000));
      if (hasHr) {
        const hr = valueAt(act.heartRate, p.t, HR_MAX_GAP_S);
        if (hr !== undefined) {
          pt.ele('extensions')
            .ele(GPXTPX_NS, 'gpxtpx:TrackPointExtension')
            .ele(GPXTPX_NS, 'gpxtpx:hr')
            .txt(String(Math.round(hr)));
        }
      }
    }
  }
  return root.end({ prettyPrint: true });
}

export function isActivity(v: unknown): v is Activity {
  return (
    typeof v === 'object' &&
    v !== null &&
    Array.isArray((v as Activity).segments) &&
    typeof (v as Activity).start === 'object'
  );
}
