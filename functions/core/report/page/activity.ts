/// <reference lib="dom" />
/**
 * One activity: its facts and notes (as text), the route drawn to scale, speed / heart-rate /
 * elevation charts (uPlot) over distance or time with pauses visible, and the splits.
 * The detail block is decoded only here, when the activity is opened.
 */
import uPlot from 'uplot';
import type { ActivityDetail, ReportActivity, ReportData } from '../types.ts';
import {
  clear,
  fmtClimb,
  fmtDistance,
  fmtDuration,
  fmtLocal,
  fmtNumber,
  fmtPace,
  h,
  perUnit,
  speedPerHour,
  units,
  unpack,
} from './dom.ts';
import { decodeRoute, drawScaleBar, drawTiles, fitView, strokeRoutes } from './map.ts';

type Axis = 'distance' | 'time';
let axis: Axis = 'distance';

function facts(a: ReportActivity): HTMLElement {
  const dl = h('dl', { class: 'facts' });
  const add = (k: string, v: string | number | undefined, id?: string) => {
    if (v === undefined || v === '') return;
    dl.append(h('dt', {}, k), h('dd', id ? { id } : {}, v));
  };
  add('Start (local)', `${fmtLocal(a.local)}${a.zone ? ` ${a.zone}` : ''}`, 'act-start');
  add('Type', a.type);
  add('Route', a.name);
  add('Distance', fmtDistance(a.distance), 'act-distance');
  add('Moving time', fmtDuration(a.moving));
  add('Elapsed time', a.elapsed > 0 ? fmtDuration(a.elapsed) : undefined);
  add('Pace', fmtPace(a.distance, a.moving));
  add('Climb', fmtClimb(a.climb));
  add(
    'Average heart rate',
    a.heartRate === undefined ? undefined : `${Math.round(a.heartRate)} bpm`,
  );
  add('Calories', a.calories === undefined ? undefined : Math.round(a.calories));
  add('Source', a.source);
  return dl;
}

function routeCanvas(d: ActivityDetail, data: ReportData, a: ReportActivity): HTMLElement {
  const segs = decodeRoute(d.route);
  const canvas = h('canvas', { width: 800, height: 480, id: 'route', role: 'img' });
  const ctx = canvas.getContext('2d');
  const view = fitView(segs, canvas.width, canvas.height);
  let scaleLabel = '';
  const draw = () => {
    if (!ctx) return;
    ctx.fillStyle = '#f4f1ea';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (data.tiles) drawTiles(ctx, view, data.tiles, draw);
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    ctx.strokeStyle = '#c0392b';
    ctx.lineWidth = 3;
    strokeRoutes(ctx, view, segs);
    scaleLabel = drawScaleBar(ctx, view, units.current);
    canvas.setAttribute(
      'aria-label',
      `Route of the ${a.type.toLowerCase()} on ${fmtLocal(a.local)}, ${segs.length} moving part(s), drawn to scale (scale bar ${scaleLabel})`,
    );
  };
  draw();
  return canvas;
}

function chart(
  title: string,
  x: number[],
  y: (number | null)[],
  pauses: number[],
  xLabel: string,
  yLabel: string,
  width: number,
  fromZero = false,
): HTMLElement {
  const box = h('figure', { class: 'chart', 'data-chart': title });
  box.append(h('figcaption', {}, `${title} (${yLabel}) over ${xLabel}`));
  const opts: uPlot.Options = {
    width,
    height: 180,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: false },
      ...(fromZero ? { y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.15] } } : {}),
    },
    axes: [
      {
        values: (_u, vals) => vals.map((v) => (axis === 'time' ? fmtDuration(v) : fmtNumber(v, 1))),
      },
      { size: 50 },
    ],
    series: [{}, { label: title, stroke: '#2c6fbb', width: 1.5, spanGaps: false }],
    hooks: {
      drawAxes: [
        (u) => {
          const c = u.ctx;
          c.save();
          c.fillStyle = 'rgba(120,120,120,0.25)';
          for (let i = 0; i + 1 < pauses.length; i += 2) {
            const x0 = u.valToPos(pauses[i]!, 'x', true);
            const x1 = u.valToPos(pauses[i + 1]!, 'x', true);
            c.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
          }
          c.restore();
        },
      ],
    },
  };
  new uPlot(opts, [x, y], box);
  return box;
}

function charts(d: ActivityDetail, el: HTMLElement): void {
  clear(el);
  const s = d.series;
  const n = s.t.length;
  const xs: number[] = [];
  const pauses: number[] = [];
  let last = 0;
  for (let i = 0; i < n; i++) {
    const t = s.t[i];
    const x = axis === 'time' ? (t ?? last) : (s.d[i] ?? 0) / perUnit();
    xs.push(x);
    if (t !== null && t !== undefined) last = t;
  }
  for (const [from, to] of d.pauses) {
    if (axis === 'time') pauses.push(from, to);
    else {
      const i = s.t.findIndex((t) => t !== null && t >= to);
      const x = i >= 0 ? (s.d[i] ?? 0) / perUnit() : 0;
      pauses.push(x, x);
    }
  }
  const width = Math.min(900, Math.max(320, el.clientWidth || 800));
  const xLabel = axis === 'time' ? 'time' : `distance (${units.current})`;
  const hasDistance = s.d.some((v) => v !== null && v > 0);
  if (axis === 'distance' && !hasDistance) {
    el.append(h('p', {}, 'No distance recorded: see the charts over time.'));
    return;
  }
  if (s.v.some((v) => v !== null)) {
    const y = s.v.map((v) => (v === null ? null : speedPerHour(v / 100)));
    el.append(
      chart('Speed', xs, y, pauses, xLabel, units.current === 'km' ? 'km/h' : 'mph', width, true),
    );
  }
  if (s.hr?.some((v) => v !== null))
    el.append(chart('Heart rate', xs, s.hr, pauses, xLabel, 'bpm', width));
  if (s.alt?.some((v) => v !== null)) {
    const y = s.alt.map((v) =>
      v === null ? null : units.current === 'km' ? v / 10 : v / 10 / 0.3048,
    );
    el.append(
      chart('Elevation', xs, y, pauses, xLabel, units.current === 'km' ? 'm' : 'ft', width),
    );
  }
}

function splitsTable(d: ActivityDetail): HTMLElement {
  const km = units.current === 'km';
  const full = km ? d.splits.km : d.splits.mi;
  const rest = km ? d.splits.kmRest : d.splits.miRest;
  const rows = full.map((sec, i) =>
    h('tr', {}, h('th', { scope: 'row' }, i + 1), h('td', { 'data-value': sec }, fmtDuration(sec))),
  );
  if (rest) {
    const [m, sec] = rest;
    rows.push(
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, `+${fmtNumber(m / perUnit(), 2)}`),
        h('td', { 'data-value': sec }, fmtDuration(sec)),
      ),
    );
  }
  return h(
    'table',
    { id: 'splits' },
    h('caption', {}, `Splits per ${units.current} (moving time)`),
    h(
      'thead',
      {},
      h('tr', {}, h('th', { scope: 'col' }, units.current), h('th', { scope: 'col' }, 'Time')),
    ),
    h('tbody', {}, ...rows),
  );
}

export function renderActivity(el: HTMLElement, data: ReportData, id: string): void {
  clear(el);
  const a = data.activities.find((x) => x.id === id);
  if (!a) {
    el.append(h('h2', {}, 'Activity not found'), h('p', {}, `No activity ${id} in this report.`));
    return;
  }
  el.append(h('h2', { id: 'activity-title' }, `${a.type} on ${fmtLocal(a.local)}`), facts(a));
  if (a.notes)
    el.append(
      h('h3', {}, 'Notes'),
      h('p', { id: 'act-notes', dir: 'auto', class: 'pre' }, a.notes),
    );
  const files = h('p', { class: 'files' }, 'Files: ');
  for (const [label, href] of Object.entries(a.files))
    if (href) files.append(h('a', { href }, label.toUpperCase()), ' ');
  el.append(files);
  const d = a.detail ? unpack<ActivityDetail>(`d${a.id}`) : undefined;
  if (!d) {
    el.append(h('p', {}, 'No route or samples were recorded for this activity.'));
    return;
  }
  if (d.route.length > 0) el.append(h('h3', {}, 'Route'), routeCanvas(d, data, a));
  const chartBox = h('div', { id: 'charts' });
  const radios = h('fieldset', { class: 'axis' }, h('legend', {}, 'Charts over'));
  for (const v of ['distance', 'time'] as Axis[]) {
    const input = h('input', {
      type: 'radio',
      name: 'axis',
      id: `axis-${v}`,
      value: v,
      checked: axis === v,
    });
    input.addEventListener('change', () => {
      axis = v;
      charts(d, chartBox);
    });
    radios.append(input, h('label', { for: `axis-${v}` }, v), ' ');
  }
  el.append(h('h3', {}, 'Charts'), radios, chartBox);
  charts(d, chartBox);
  if (d.splits.km.length + d.splits.mi.length > 0 || d.splits.kmRest) el.append(splitsTable(d));
}
