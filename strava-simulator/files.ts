/**
 * What the Strava simulator reads from an uploaded file: start time, sport, distance and
 * elapsed time (GPX/TCX by their elements, FIT by a minimal reader of its session message).
 */
/** Start time, sport, distance and elapsed time read from the uploaded file itself. */
export function parseMeta(
  bytes: Buffer,
  dataType: string,
): { start: string; sport: string; distance: number; elapsed: number } {
  if (dataType.startsWith('fit')) return parseFitMeta(bytes);
  const text = bytes.toString('utf8');
  const times = [...text.matchAll(/<(?:time|Time)>([^<]+)</g)].map((m) => Date.parse(m[1]!));
  const first = times[0] ?? 0;
  const last = times.at(-1) ?? first;
  const dist = [...text.matchAll(/<DistanceMeters>([^<]+)</g)].map((m) => Number(m[1]));
  const sport = /Sport="([^"]+)"/.exec(text)?.[1] === 'Biking' ? 'Ride' : 'Run';
  return {
    start: new Date(first).toISOString().replace('.000Z', 'Z'),
    sport,
    distance: dist.length ? Math.max(...dist) : 0,
    elapsed: Math.round((last - first) / 1000),
  };
}

const FIT_EPOCH_MS = Date.UTC(1989, 11, 31);

/** A minimal FIT reader (definition + data messages, no compressed headers): session summary. */
function parseFitMeta(b: Buffer): {
  start: string;
  sport: string;
  distance: number;
  elapsed: number;
} {
  const headerSize = b[0]!;
  const dataSize = b.readUInt32LE(4);
  if (b.toString('latin1', 8, 12) !== '.FIT') throw new Error('not a FIT file');
  const defs = new Map<
    number,
    { global: number; little: boolean; fields: [number, number][]; dev: number }
  >();
  let p = headerSize;
  const end = headerSize + dataSize;
  const out = { start: '', sport: 'Workout', distance: 0, elapsed: 0 };
  while (p < end) {
    const h = b[p++]!;
    if ((h & 0x80) !== 0) throw new Error('compressed timestamp headers are not supported');
    const local = h & 0x0f;
    if ((h & 0x40) !== 0) {
      const little = b[p + 1] === 0;
      const global = little ? b.readUInt16LE(p + 2) : b.readUInt16BE(p + 2);
      const n = b[p + 4]!;
      p += 5;
      const fields: [number, number][] = [];
      for (let i = 0; i < n; i++, p += 3) fields.push([b[p]!, b[p + 1]!]);
      let dev = 0;
      if ((h & 0x20) !== 0) {
        const nd = b[p++]!;
        for (let i = 0; i < nd; i++, p += 3) dev += b[p + 1]!;
      }
      defs.set(local, { global, little, fields, dev });
      continue;
    }
    const d = defs.get(local);
    if (!d) throw new Error('data message without definition');
    const vals = new Map<number, number>();
    for (const [num, size] of d.fields) {
      if (size === 4) vals.set(num, d.little ? b.readUInt32LE(p) : b.readUInt32BE(p));
      else if (size === 1) vals.set(num, b[p]!);
      else if (size === 2) vals.set(num, d.little ? b.readUInt16LE(p) : b.readUInt16BE(p));
      p += size;
    }
    p += d.dev;
    if (d.global === 18) {
      // session: start_time (2), total_elapsed_time (7, s×1000), total_distance (9, m×100), sport (5)
      const st = vals.get(2);
      if (st !== undefined)
        out.start = new Date(FIT_EPOCH_MS + st * 1000).toISOString().replace('.000Z', 'Z');
      const el = vals.get(7);
      if (el !== undefined && el !== 0xffffffff) out.elapsed = Math.round(el / 1000);
      const di = vals.get(9);
      if (di !== undefined && di !== 0xffffffff) out.distance = di / 100;
      out.sport = FIT_SPORTS[vals.get(5) ?? -1] ?? 'Workout';
    }
  }
  return out;
}

const FIT_SPORTS: Record<number, string> = {
  1: 'Run',
  2: 'Ride',
  5: 'Swim',
  11: 'Walk',
  17: 'Hike',
  12: 'NordicSki',
  13: 'AlpineSki',
  14: 'Snowboard',
  15: 'Rowing',
};
