/// <reference lib="dom" />
/**
 * Every route of a region on one canvas: thin translucent lines add up where routes repeat.
 * Regions are ~100 km grid cells of the first GPS point (aggregate.ts), busiest first.
 */
import type { ReportData, RouteSketches } from '../types.ts';
import { clear, h, units, unpack } from './dom.ts';
import { decodeRoute, drawScaleBar, fitView, type LatLon, strokeRoutes } from './map.ts';

let sketches: RouteSketches | undefined;

export function renderHeatmap(el: HTMLElement, data: ReportData): void {
  clear(el);
  el.append(h('h2', {}, 'All routes'));
  if (data.regions.length === 0) {
    el.append(h('p', {}, 'No activity has a GPS route.'));
    return;
  }
  sketches ??= unpack<RouteSketches>('rk-sketches') ?? {};
  const select = h(
    'select',
    { id: 'region' },
    ...data.regions.map((r, i) =>
      h(
        'option',
        { value: i },
        `${r.lat.toFixed(1)}°, ${r.lon.toFixed(1)}° (${r.count} ${r.count === 1 ? 'route' : 'routes'})`,
      ),
    ),
  );
  const canvas = h('canvas', { width: 900, height: 600, id: 'heatmap', role: 'img' });
  const note = h('p', { id: 'heatmap-count', role: 'status' });
  el.append(h('label', { for: 'region' }, 'Region '), select, note, canvas);
  const draw = () => {
    const region = Number(select.value);
    const segs: LatLon[][] = [];
    let routes = 0;
    for (const a of data.activities) {
      if (a.region !== region) continue;
      const s = sketches?.[a.id];
      if (!s) continue;
      routes++;
      segs.push(...decodeRoute(s));
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.fillStyle = '#111';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const view = fitView(segs, canvas.width, canvas.height);
    ctx.globalCompositeOperation = 'lighter';
    ctx.strokeStyle = 'rgba(255, 90, 40, 0.35)';
    ctx.lineWidth = 1.5;
    strokeRoutes(ctx, view, segs);
    ctx.globalCompositeOperation = 'source-over';
    const label = drawScaleBar(ctx, view, units.current);
    note.dataset.value = String(routes);
    note.textContent = `${routes} routes drawn`;
    canvas.setAttribute('aria-label', `Heatmap of ${routes} routes, scale bar ${label}`);
  };
  select.addEventListener('change', draw);
  draw();
}
