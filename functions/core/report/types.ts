/**
 * The data the HTML report embeds: built in Node (functions/core/report/*), read by the page
 * (functions/core/report/page/*). Metric units throughout (metres, seconds); the page converts.
 * A value the archive lacks is absent (never 0 or a guess).
 */

/** One activity of the table (always parsed at page load). */
export interface ReportActivity {
  id: string;
  source: 'api' | 'zip' | 'api+zip';
  /** Local wall-clock start `YYYY-MM-DDTHH:MM:SS` (the activity's own zone). */
  local: string;
  /** IANA zone of the start, when known. */
  zone?: string;
  /** UTC start ISO, when known. */
  utc?: string;
  type: string;
  distance: number;
  /** Moving time (the API's `duration`), seconds. */
  moving: number;
  elapsed: number;
  climb?: number;
  heartRate?: number;
  calories?: number;
  name?: string;
  notes?: string;
  /** Relative links from the report file to the activity's files. */
  files: { raw: string; gpx?: string; tcx?: string; geojson?: string; fit?: string };
  /** A detail block (route and/or charts) exists for this activity. */
  detail: boolean;
  /** Index into ReportData.regions when the activity has a route. */
  region?: number;
}

export interface Totals {
  count: number;
  distance: number;
  moving: number;
  climb: number;
}

export interface Region {
  /** Centre of the region's grid cell, degrees. */
  lat: number;
  lon: number;
  count: number;
}

export interface Highlight {
  label: string;
  id: string;
  /** Metres, seconds or m/s per `kind`. */
  value: number;
  kind: 'distance' | 'duration' | 'speed' | 'climb';
}

export interface ReportData {
  userId: string;
  generatedAt: string;
  /** Optional tile URL template ({z}/{x}/{y}); absent = no network at all. */
  tiles?: string;
  /** Newest first, as in the index. */
  activities: ReportActivity[];
  totals: {
    all: Totals;
    /** '2024' → totals */
    byYear: Record<string, Totals>;
    /** '2024-05' → totals */
    byMonth: Record<string, Totals>;
    byType: Record<string, Totals>;
  };
  /** 'YYYY-MM-DD' (local) → distance that day, metres (count in `dayCounts`). */
  days: Record<string, number>;
  dayCounts: Record<string, number>;
  highlights: Highlight[];
  regions: Region[];
}

/**
 * One activity's detail (deflated, base64, in its own block; parsed when the activity is
 * opened). Coordinates are integers of 1e-5 degree, delta-encoded within a segment.
 */
export interface ActivityDetail {
  /** Moving parts of the route, each [dLat, dLon, dLat, dLon, …] (first pair absolute). */
  route: number[][];
  /** Chart series, one entry per sample; `null` rows mark pauses (gaps in the lines). */
  series: {
    /** Elapsed seconds since the start (pauses included). */
    t: (number | null)[];
    /** Distance, metres. */
    d: (number | null)[];
    /** Speed, cm/s (null where unknown). */
    v: (number | null)[];
    hr: (number | null)[] | undefined;
    /** Elevation, decimetres. */
    alt: (number | null)[] | undefined;
  };
  /** Pauses as [from, to] elapsed seconds. */
  pauses: [number, number][];
  /** Moving seconds per full km / mile, plus the last partial split [metres, seconds]. */
  splits: { km: number[]; mi: number[]; kmRest?: [number, number]; miRest?: [number, number] };
}

/** Small routes of every activity for the all-routes heatmap, by region (one block). */
export interface RouteSketches {
  /** id → segments, same encoding as ActivityDetail.route (coarser). */
  [id: string]: number[][];
}
