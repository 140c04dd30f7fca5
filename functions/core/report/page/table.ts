/// <reference lib="dom" />
/**
 * The activity table: sortable by any column, filterable by type and year, searchable by
 * route name and notes, paged (100 rows) so 5,000 activities stay instant. Each row links
 * to the activity's view and to its files.
 */
import type { ReportActivity, ReportData } from '../types.ts';
import { clear, fmtClimb, fmtDistance, fmtDuration, fmtLocal, fmtPace, h, units } from './dom.ts';

export const PAGE_SIZE = 100;

type Key = 'local' | 'type' | 'name' | 'distance' | 'moving' | 'pace' | 'climb' | 'heartRate';
const COLUMNS: [Key, string][] = [
  ['local', 'Date (local)'],
  ['type', 'Type'],
  ['name', 'Route'],
  ['distance', 'Distance'],
  ['moving', 'Moving time'],
  ['pace', 'Pace'],
  ['climb', 'Climb'],
  ['heartRate', 'Avg HR'],
];

function sortValue(a: ReportActivity, key: Key): number | string {
  switch (key) {
    case 'pace':
      return a.distance > 0 && a.moving > 0 ? a.moving / a.distance : Number.POSITIVE_INFINITY;
    case 'name':
      return a.name ?? '';
    case 'climb':
      return a.climb ?? -1;
    case 'heartRate':
      return a.heartRate ?? -1;
    default:
      return a[key];
  }
}

export function renderTable(el: HTMLElement, data: ReportData, openActivity: (id: string) => void) {
  const state = { type: '', year: '', q: '', key: 'local' as Key, desc: true, page: 0 };
  const types = [...new Set(data.activities.map((a) => a.type))].sort();
  const years = [...new Set(data.activities.map((a) => a.local.slice(0, 4)))].sort().reverse();
  const typeSel = h(
    'select',
    { id: 'filter-type' },
    h('option', { value: '' }, 'All types'),
    ...types.map((t) => h('option', { value: t }, t)),
  );
  const yearSel = h(
    'select',
    { id: 'filter-year' },
    h('option', { value: '' }, 'All years'),
    ...years.map((y) => h('option', { value: y }, y)),
  );
  const search = h('input', {
    id: 'search',
    type: 'search',
    placeholder: 'route name or notes',
    autocomplete: 'off',
  });
  const count = h('p', { id: 'table-count', role: 'status' });
  const thead = h('thead');
  const tbody = h('tbody');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Table pages' });
  el.append(
    h('h2', {}, 'Activities'),
    h(
      'div',
      { class: 'filters' },
      h('label', { for: 'filter-type' }, 'Type '),
      typeSel,
      h('label', { for: 'filter-year' }, 'Year '),
      yearSel,
      h('label', { for: 'search' }, 'Search '),
      search,
    ),
    count,
    h('div', { class: 'scroll' }, h('table', { id: 'activities' }, thead, tbody)),
    pager,
  );

  const filtered = (): ReportActivity[] => {
    const q = state.q.trim().toLowerCase();
    const rows = data.activities.filter(
      (a) =>
        (!state.type || a.type === state.type) &&
        (!state.year || a.local.startsWith(state.year)) &&
        (!q ||
          (a.name ?? '').toLowerCase().includes(q) ||
          (a.notes ?? '').toLowerCase().includes(q)),
    );
    const dir = state.desc ? -1 : 1;
    return rows.sort((x, y) => {
      const a = sortValue(x, state.key);
      const b = sortValue(y, state.key);
      const c =
        typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
      return c * dir || x.local.localeCompare(y.local) * -1;
    });
  };

  const header = () => {
    clear(thead);
    const tr = h('tr');
    for (const [key, label] of COLUMNS) {
      const active = state.key === key;
      const btn = h('button', { type: 'button', 'data-sort': key }, label);
      btn.addEventListener('click', () => {
        state.desc = active ? !state.desc : key === 'local';
        state.key = key;
        state.page = 0;
        draw();
      });
      tr.append(
        h(
          'th',
          {
            scope: 'col',
            'aria-sort': active ? (state.desc ? 'descending' : 'ascending') : undefined,
          },
          btn,
        ),
      );
    }
    tr.append(h('th', { scope: 'col' }, 'Notes'), h('th', { scope: 'col' }, 'Files'));
    thead.append(tr);
  };

  const row = (a: ReportActivity) => {
    const open = h('a', { href: `#activity/${a.id}` }, fmtLocal(a.local));
    open.addEventListener('click', (e) => {
      e.preventDefault();
      openActivity(a.id);
    });
    const files = h('td', { class: 'files' });
    for (const [label, href] of Object.entries(a.files)) {
      if (href) files.append(h('a', { href, 'data-file': label }, label.toUpperCase()), ' ');
    }
    return h(
      'tr',
      { 'data-id': a.id },
      h('td', {}, open, a.zone ? h('span', { class: 'zone' }, ` ${a.zone}`) : ''),
      h('td', {}, a.type),
      h('td', { dir: 'auto' }, a.name ?? ''),
      h('td', { 'data-value': a.distance }, fmtDistance(a.distance)),
      h('td', { 'data-value': a.moving }, fmtDuration(a.moving)),
      h('td', {}, fmtPace(a.distance, a.moving)),
      h('td', { 'data-value': a.climb }, fmtClimb(a.climb)),
      h(
        'td',
        { 'data-value': a.heartRate },
        a.heartRate === undefined ? '' : Math.round(a.heartRate),
      ),
      h('td', { class: 'notes', dir: 'auto' }, a.notes ?? ''),
      files,
    );
  };

  const draw = () => {
    header();
    const rows = filtered();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    const from = state.page * PAGE_SIZE;
    const shown = rows.slice(from, from + PAGE_SIZE);
    clear(tbody);
    const frag = document.createDocumentFragment();
    for (const a of shown) frag.append(row(a));
    tbody.append(frag);
    count.dataset.value = String(rows.length);
    count.textContent =
      rows.length === 0
        ? 'No activity matches.'
        : `${rows.length} activities (showing ${from + 1}–${from + shown.length})`;
    clear(pager);
    const prev = h(
      'button',
      { type: 'button', id: 'page-prev', disabled: state.page === 0 },
      'Previous',
    );
    const next = h(
      'button',
      { type: 'button', id: 'page-next', disabled: state.page >= pages - 1 },
      'Next',
    );
    prev.addEventListener('click', () => {
      state.page--;
      draw();
    });
    next.addEventListener('click', () => {
      state.page++;
      draw();
    });
    pager.append(prev, ` page ${state.page + 1} of ${pages} `, next);
  };

  typeSel.addEventListener('change', () => {
    state.type = typeSel.value;
    state.page = 0;
    draw();
  });
  yearSel.addEventListener('change', () => {
    state.year = yearSel.value;
    state.page = 0;
    draw();
  });
  search.addEventListener('input', () => {
    state.q = search.value;
    state.page = 0;
    draw();
  });
  units.listeners.push(draw);
  draw();
}
