declare module 'tz-lookup' {
  /** IANA time-zone name for a WGS84 position; throws on invalid coordinates. */
  export default function tzlookup(latitude: number, longitude: number): string;
}
