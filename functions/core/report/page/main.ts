/// <reference lib="dom" />
/**
 * The report page's entry (bundled by esbuild into page.generated.ts, see
 * scripts/build-report-page.ts). Views: overview, activities, all routes, one activity;
 * the address's #fragment selects one, so links and the back button work offline.
 */
import type { ReportData } from '../types.ts';
import { renderActivity } from './activity.ts';
import { h, type Unit, units } from './dom.ts';
import { renderHeatmap } from './heatmap.ts';
import { renderOverview } from './overview.ts';
import { renderTable } from './table.ts';

const raw = document.getElementById('rk-data')?.textContent ?? '{}';
const data = JSON.parse(raw) as ReportData;

const views = {
  overview: h('section', { id: 'view-overview', 'aria-labelledby': 'tab-overview' }),
  activities: h('section', { id: 'view-activities', 'aria-labelledby': 'tab-activities' }),
  map: h('section', { id: 'view-map', 'aria-labelledby': 'tab-map' }),
  activity: h('section', { id: 'view-activity' }),
};
type ViewName = keyof typeof views;

const open = (id: string) => {
  location.hash = `#activity/${id}`;
};

const nav = h('nav', { 'aria-label': 'Views' });
const tabs: Record<string, HTMLAnchorElement> = {};
for (const [name, label] of [
  ['overview', 'Overview'],
  ['activities', 'Activities'],
  ['map', 'All routes'],
] as const) {
  tabs[name] = h('a', { href: `#${name}`, id: `tab-${name}` }, label);
  nav.append(tabs[name]!, ' ');
}

const unitBox = h('fieldset', { class: 'units' }, h('legend', {}, 'Units'));
for (const u of ['km', 'mi'] as Unit[]) {
  const input = h('input', {
    type: 'radio',
    name: 'unit',
    id: `unit-${u}`,
    value: u,
    checked: u === 'km',
  });
  input.addEventListener('change', () => {
    units.set(u);
    route();
  });
  unitBox.append(input, h('label', { for: `unit-${u}` }, u), ' ');
}

const generated = data.generatedAt ? data.generatedAt.slice(0, 16).replace('T', ' ') : '';
document.body.append(
  h(
    'header',
    {},
    h('h1', {}, 'Runkeeper archive'),
    h(
      'p',
      { class: 'sub' },
      `User ${data.userId} · built ${generated} UTC · works offline, sends nothing`,
    ),
    nav,
    unitBox,
  ),
  h('main', {}, ...Object.values(views)),
);

renderOverview(views.overview, data, open);
renderTable(views.activities, data, open);

function show(name: ViewName) {
  for (const [k, el] of Object.entries(views)) el.hidden = k !== name;
  for (const [k, a] of Object.entries(tabs)) {
    if (k === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  const m = /^activity\/([0-9]{1,20})$/.exec(hash);
  if ((m || hash === 'map') && document.readyState === 'loading') {
    // Routes and charts sit in the blocks after this script: wait until they are parsed.
    views.activity.replaceChildren(h('p', { role: 'status' }, 'Loading…'));
    show('activity');
    document.addEventListener('DOMContentLoaded', route, { once: true });
    return;
  }
  if (m) {
    renderActivity(views.activity, data, m[1]!);
    show('activity');
    window.scrollTo(0, 0);
  } else if (hash === 'map') {
    renderHeatmap(views.map, data);
    show('map');
  } else if (hash === 'activities') show('activities');
  else show('overview');
}

window.addEventListener('hashchange', route);
route();
document.body.dataset.ready = 'true';
performance.mark('rk-interactive');
