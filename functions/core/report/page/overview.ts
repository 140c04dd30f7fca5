/// <reference lib="dom" />
/**
 * The overview: totals per year, month and type, a calendar heatmap of activity days and the
 * highlights. Numbers come precomputed from the build (aggregate.ts); this only formats them.
 */
import type { ReportData, Totals } from '../types.ts';
import { clear, fmtClimb, fmtDistance, fmtDuration, fmtSpeed, h, units } from './dom.ts';

function totalsTable(caption: string, first: string, rows: [string, Totals][], id: string) {
  return h(
    'table',
    { id, class: 'totals' },
    h('caption', {}, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, first),
        h('th', { scope: 'col' }, 'Activities'),
        h('th', { scope: 'col' }, 'Distance'),
        h('th', { scope: 'col' }, 'Moving time'),
        h('th', { scope: 'col' }, 'Climb'),
      ),
    ),
    h(
      'tbody',
      {},
      ...rows.map(([k, t]) =>
        h(
          'tr',
          { 'data-key': k },
          h('th', { scope: 'row' }, k),
          h('td', { 'data-value': t.count }, t.count),
          h('td', { 'data-value': t.distance }, fmtDistance(t.distance)),
          h('td', { 'data-value': t.moving }, fmtDuration(t.moving)),
          h('td', { 'data-value': t.climb }, fmtClimb(t.climb)),
        ),
      ),
    ),
  );
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

const SHADES = ['#ebedf0', '#c6e48b', '#7bc96f', '#239a3b', '#196127'];

/** One year as a GitHub-style grid: a column per week, a row per weekday (Monday first). */
export function calendar(data: ReportData, year: string): SVGElement {
  const cell = 13;
  const root = svg('svg', {
    width: 54 * cell + 30,
    height: 7 * cell + 20,
    role: 'img',
    'aria-label': `Activity days in ${year}`,
    class: 'calendar',
  });
  const max = Math.max(1, ...Object.values(data.days));
  const jan1 = Date.UTC(Number(year), 0, 1);
  const offset = (new Date(jan1).getUTCDay() + 6) % 7;
  for (let d = 0; d < 366; d++) {
    const date = new Date(jan1 + d * 86_400_000);
    if (date.getUTCFullYear() !== Number(year)) break;
    const key = date.toISOString().slice(0, 10);
    const count = data.dayCounts[key] ?? 0;
    const dist = data.days[key] ?? 0;
    const level = count === 0 ? 0 : Math.min(4, 1 + Math.floor((dist / max) * 3.999));
    const idx = d + offset;
    const rect = svg('rect', {
      x: 30 + Math.floor(idx / 7) * cell,
      y: 16 + (idx % 7) * cell,
      width: cell - 2,
      height: cell - 2,
      fill: SHADES[level]!,
      'data-day': key,
      'data-count': count,
    });
    const title = svg('title', {});
    title.textContent =
      count === 0 ? `${key}: no activity` : `${key}: ${count} × ${fmtDistance(dist)}`;
    rect.appendChild(title);
    root.appendChild(rect);
  }
  ['Mon', 'Wed', 'Fri'].forEach((label, i) => {
    const t = svg('text', { x: 0, y: 16 + (i * 2 + 1) * cell - 3, 'font-size': 10 });
    t.textContent = label;
    root.appendChild(t);
  });
  return root;
}

export function renderOverview(
  el: HTMLElement,
  data: ReportData,
  openActivity: (id: string) => void,
) {
  const years = Object.keys(data.totals.byYear).sort().reverse();
  let year = years[0] ?? String(new Date().getFullYear());
  const draw = () => {
    clear(el);
    const t = data.totals.all;
    el.append(
      h('h2', {}, 'Overview'),
      h(
        'p',
        { class: 'summary' },
        h('strong', { id: 'total-count', 'data-value': t.count }, t.count),
        ' activities · ',
        h('strong', { id: 'total-distance', 'data-value': t.distance }, fmtDistance(t.distance)),
        ' · ',
        h('strong', { id: 'total-moving', 'data-value': t.moving }, fmtDuration(t.moving)),
        ' moving · ',
        h('strong', { id: 'total-climb', 'data-value': t.climb }, fmtClimb(t.climb)),
        ' climbed',
      ),
    );
    const select = h(
      'select',
      { id: 'calendar-year' },
      ...years.map((y) => h('option', { value: y, selected: y === year }, y)),
    );
    select.addEventListener('change', () => {
      year = select.value;
      draw();
    });
    el.append(
      h('h3', {}, 'Activity days'),
      h('label', { for: 'calendar-year' }, 'Year '),
      select,
      h('div', { class: 'scroll' }, calendar(data, year)),
    );
    const list = h('ul', { class: 'highlights', id: 'highlights' });
    for (const hl of data.highlights) {
      const value =
        hl.kind === 'distance'
          ? fmtDistance(hl.value)
          : hl.kind === 'duration'
            ? fmtDuration(hl.value)
            : hl.kind === 'climb'
              ? fmtClimb(hl.value)
              : fmtSpeed(hl.value);
      const a = h('a', { href: `#activity/${hl.id}` }, value);
      a.addEventListener('click', (e) => {
        e.preventDefault();
        openActivity(hl.id);
      });
      list.append(h('li', {}, `${hl.label}: `, a));
    }
    el.append(h('h3', {}, 'Highlights'), list);
    const months = Object.entries(data.totals.byMonth)
      .filter(([k]) => k.startsWith(year))
      .sort(([a], [b]) => a.localeCompare(b));
    el.append(
      h(
        'div',
        { class: 'grid' },
        totalsTable(
          'Per year',
          'Year',
          Object.entries(data.totals.byYear).sort(([a], [b]) => b.localeCompare(a)),
          'by-year',
        ),
        totalsTable(`Per month of ${year}`, 'Month', months, 'by-month'),
        totalsTable(
          'Per type',
          'Type',
          Object.entries(data.totals.byType).sort(([, a], [, b]) => b.count - a.count),
          'by-type',
        ),
      ),
    );
  };
  units.listeners.push(draw);
  draw();
}
