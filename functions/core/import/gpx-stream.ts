/**
 * Streaming GPX reader for export GPX files (saxes, a SAX parser): memory is the points it
 * keeps, not a DOM of the document (a DOM took ~40x the file's size: a 20 MiB GPX needed
 * ~1.4 GB). Elements are matched by local name (any namespace prefix), so GPX 1.0/1.1 and
 * the Garmin TrackPointExtension (`gpxtpx:hr`) all read. Bytes are decoded and fed in
 * chunks; points are appended one by one (never spread), so 100k+ point tracks are fine.
 * A value a point lacks (`<ele>`, `<time>`, heart rate) stays undefined.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';

export interface GpxPoint {
  /** UTC epoch ms as written (a `Z` suffix is taken at its word here), undefined without a valid time. */
  time: number | undefined;
  lat: number;
  lon: number;
  ele: number | undefined;
  hr: number | undefined;
}

export interface ParsedGpx {
  name: string | undefined;
  type: string | undefined;
  /** Points of every track segment, in document order. */
  points: GpxPoint[];
  /** One array per non-empty `<trkseg>`. */
  segments: GpxPoint[][];
}

export class GpxParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpxParseError';
  }
}

const CHUNK = 1 << 20;
const local = (name: string) => name.slice(name.indexOf(':') + 1);

function finite(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parses one export GPX. Throws GpxParseError on malformed XML, an empty document, or a
 * root that is not `<gpx>`.
 */
export function parseExportGpx(input: string | Uint8Array): ParsedGpx {
  const parser = new SaxesParser<{ xmlns: false; position: false }>({
    xmlns: false,
    position: false,
  });
  const stack: string[] = [];
  const points: GpxPoint[] = [];
  const segments: GpxPoint[][] = [];
  let name: string | undefined;
  let type: string | undefined;
  let trkIndex = -1;
  let seg: GpxPoint[] | undefined;
  let pt: { lat: number; lon: number; valid: boolean; f: Record<string, string> } | undefined;
  /** Text being collected for the current element of interest (time, ele, hr, name, type). */
  let collect: string | undefined;
  let root = false;

  parser.on('error', (e) => {
    throw new GpxParseError(`malformed XML: ${e.message}`);
  });
  parser.on('opentag', (tag: SaxesTagPlain) => {
    const n = local(tag.name);
    const parent = stack.at(-1);
    if (stack.length === 0) {
      if (n !== 'gpx') throw new GpxParseError('root element is not <gpx>');
      root = true;
    } else if (n === 'trk' && parent === 'gpx') trkIndex++;
    else if (n === 'trkseg' && parent === 'trk') seg = [];
    else if (n === 'trkpt' && parent === 'trkseg') {
      const lat = Number(tag.attributes.lat);
      const lon = Number(tag.attributes.lon);
      const valid =
        Number.isFinite(lat) && Number.isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180;
      pt = { lat, lon, valid, f: {} };
    } else if (pt && ((parent === 'trkpt' && (n === 'time' || n === 'ele')) || n === 'hr')) {
      collect = '';
    } else if (trkIndex === 0 && parent === 'trk' && (n === 'name' || n === 'type')) {
      collect = '';
    }
    stack.push(n);
  });
  const onText = (t: string) => {
    if (collect !== undefined) collect += t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => {
    const n = stack.pop();
    const parent = stack.at(-1);
    if (collect !== undefined && n !== undefined) {
      const value = collect.trim();
      collect = undefined;
      if (pt && n !== 'name' && n !== 'type') pt.f[n] ??= value;
      else if (parent === 'trk' && value !== '') {
        if (n === 'name') name ??= value;
        else type ??= value;
      }
      return;
    }
    if (n === 'trkpt' && pt) {
      if (pt.valid && seg) {
        const time = pt.f.time === undefined ? undefined : Date.parse(pt.f.time);
        const hr = finite(pt.f.hr);
        seg.push({
          time: time !== undefined && Number.isFinite(time) ? time : undefined,
          lat: pt.lat,
          lon: pt.lon,
          ele: finite(pt.f.ele),
          hr: hr !== undefined && hr > 0 ? hr : undefined,
        });
      }
      pt = undefined;
    } else if (n === 'trkseg' && seg) {
      if (seg.length > 0) {
        segments.push(seg);
        for (const p of seg) points.push(p);
      }
      seg = undefined;
    }
  });

  try {
    if (typeof input === 'string') {
      for (let i = 0; i < input.length; i += CHUNK) parser.write(input.slice(i, i + CHUNK));
    } else {
      const dec = new TextDecoder('utf-8');
      for (let i = 0; i < input.byteLength; i += CHUNK) {
        parser.write(dec.decode(input.subarray(i, i + CHUNK), { stream: true }));
      }
      parser.write(dec.decode());
    }
    parser.close();
  } catch (e) {
    throw e instanceof GpxParseError ? e : new GpxParseError(`malformed XML: ${String(e)}`);
  }
  if (!root) throw new GpxParseError('malformed XML: no root element');
  return { name, type, points, segments };
}
