/// <reference lib="dom" />
/**
 * DOM and formatting helpers of the report page. Data only ever reaches the DOM as text
 * nodes or attribute values (never as markup), so hostile notes stay text.
 */
import { inflateSync, strFromU8 } from 'fflate';

export type Child = Node | string | number | undefined | null | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** A block the report embeds as deflated, base64 JSON (see html.ts). */
export function unpack<T>(id: string): T | undefined {
  const el = document.getElementById(id);
  if (!el?.textContent) return undefined;
  const bin = atob(el.textContent.trim());
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return JSON.parse(strFromU8(inflateSync(bytes))) as T;
}

// ---------------------------------------------------------------- units

export type Unit = 'km' | 'mi';
export const MILE = 1609.344;

export const units = {
  current: 'km' as Unit,
  listeners: [] as (() => void)[],
  set(u: Unit) {
    units.current = u;
    for (const l of units.listeners) l();
  },
};

export const perUnit = () => (units.current === 'km' ? 1000 : MILE);

export function fmtNumber(v: number, digits: number): string {
  return v.toLocaleString('en-GB', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function fmtDistance(m: number): string {
  return `${fmtNumber(m / perUnit(), 2)} ${units.current}`;
}

export function fmtClimb(m: number | undefined): string {
  if (m === undefined) return '';
  return units.current === 'km' ? `${fmtNumber(m, 0)} m` : `${fmtNumber(m / 0.3048, 0)} ft`;
}

export function fmtDuration(sec: number): string {
  const s = Math.round(sec);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const p = (n: number) => String(n).padStart(2, '0');
  return hh > 0 ? `${hh}:${p(mm)}:${p(ss)}` : `${mm}:${p(ss)}`;
}

/** Pace per km/mi (time per unit) for a distance and moving time. */
export function fmtPace(distance: number, moving: number): string {
  if (distance <= 0 || moving <= 0) return '';
  return `${fmtDuration((moving / distance) * perUnit())} /${units.current}`;
}

/** m/s → km/h or mph. */
export function speedPerHour(ms: number): number {
  return (ms * 3600) / perUnit();
}

export function fmtSpeed(ms: number): string {
  return `${fmtNumber(speedPerHour(ms), 1)} ${units.current === 'km' ? 'km/h' : 'mph'}`;
}

/** `2024-05-01T07:30:00` → `2024-05-01 07:30` (the activity's local wall clock). */
export function fmtLocal(local: string): string {
  return local.slice(0, 16).replace('T', ' ');
}
