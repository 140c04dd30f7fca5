/// <reference lib="dom" />
/**
 * Routes on a canvas in Web Mercator, fitted to their bounding box at one scale for both
 * axes (drawn to scale, with a scale bar). No tile server: the background is plain unless
 * the report was built with `--tiles`, when slippy-map tiles are drawn underneath.
 */

export type LatLon = [number, number];

/** Decodes ActivityDetail.route / sketches: delta-encoded 1e-5 degree integers. */
export function decodeRoute(route: number[][]): LatLon[][] {
  return route.map((seg) => {
    const out: LatLon[] = [];
    let lat = 0;
    let lon = 0;
    for (let i = 0; i + 1 < seg.length; i += 2) {
      lat += seg[i]!;
      lon += seg[i + 1]!;
      out.push([lat / 1e5, lon / 1e5]);
    }
    return out;
  });
}

/** Lat/lon → the unit square of Web Mercator (x east, y south). */
export function mercator([lat, lon]: LatLon): [number, number] {
  const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
}

export interface View {
  /** Pixels per unit of the Mercator square. */
  scale: number;
  x0: number;
  y0: number;
  width: number;
  height: number;
  /** Latitude at the centre (for metres per pixel). */
  lat: number;
}

export function fitView(segs: LatLon[][], width: number, height: number, pad = 24): View {
  let minX = 1;
  let minY = 1;
  let maxX = 0;
  let maxY = 0;
  let latSum = 0;
  let n = 0;
  for (const seg of segs)
    for (const p of seg) {
      const [x, y] = mercator(p);
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
      latSum += p[0];
      n++;
    }
  const dx = Math.max(maxX - minX, 1e-9);
  const dy = Math.max(maxY - minY, 1e-9);
  const scale = Math.min((width - 2 * pad) / dx, (height - 2 * pad) / dy);
  return {
    scale,
    x0: (minX + maxX) / 2 - width / 2 / scale,
    y0: (minY + maxY) / 2 - height / 2 / scale,
    width,
    height,
    lat: n > 0 ? latSum / n : 0,
  };
}

export function project(v: View, p: LatLon): [number, number] {
  const [x, y] = mercator(p);
  return [(x - v.x0) * v.scale, (y - v.y0) * v.scale];
}

export function strokeRoutes(ctx: CanvasRenderingContext2D, v: View, segs: LatLon[][]): void {
  for (const seg of segs) {
    ctx.beginPath();
    seg.forEach((p, i) => {
      const [x, y] = project(v, p);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}

/** Metres per pixel at the view's latitude. */
export function metresPerPixel(v: View): number {
  return (40_075_016.686 * Math.cos((v.lat * Math.PI) / 180)) / v.scale;
}

export function drawScaleBar(ctx: CanvasRenderingContext2D, v: View, unit: 'km' | 'mi'): string {
  const mpp = metresPerPixel(v);
  const unitM = unit === 'km' ? 1000 : 1609.344;
  const target = (v.width / 5) * mpp; // about a fifth of the width
  const steps = [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
  let len = steps[0]!;
  for (const s of steps) if (s * unitM <= target) len = s;
  const px = (len * unitM) / mpp;
  const y = v.height - 14;
  ctx.save();
  ctx.font = '12px sans-serif';
  const label = `${len} ${unit}`;
  ctx.fillStyle = 'rgba(255,255,255,0.85)';
  ctx.fillRect(4, y - 20, px + ctx.measureText(label).width + 24, 28);
  ctx.strokeStyle = '#222';
  ctx.fillStyle = '#222';
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(12, y - 5);
  ctx.lineTo(12, y);
  ctx.lineTo(12 + px, y);
  ctx.lineTo(12 + px, y - 5);
  ctx.stroke();
  ctx.fillText(label, 16 + px, y);
  ctx.restore();
  return label;
}

/** Slippy-map tiles under the view (only when the report was built with --tiles). */
export function drawTiles(
  ctx: CanvasRenderingContext2D,
  v: View,
  template: string,
  redraw: () => void,
): void {
  const z = Math.max(0, Math.min(18, Math.floor(Math.log2(v.scale / 256))));
  const n = 2 ** z;
  const size = v.scale / n;
  const tx0 = Math.floor(v.x0 * n);
  const ty0 = Math.floor(v.y0 * n);
  const tx1 = Math.floor((v.x0 + v.width / v.scale) * n);
  const ty1 = Math.floor((v.y0 + v.height / v.scale) * n);
  for (let tx = tx0; tx <= tx1; tx++)
    for (let ty = ty0; ty <= ty1; ty++) {
      if (ty < 0 || ty >= n) continue;
      const url = template
        .replace('{z}', String(z))
        .replace('{x}', String(((tx % n) + n) % n))
        .replace('{y}', String(ty));
      const img = tileCache.get(url);
      const x = (tx / n - v.x0) * v.scale;
      const y = (ty / n - v.y0) * v.scale;
      if (img?.complete && img.naturalWidth > 0) ctx.drawImage(img, x, y, size, size);
      else if (!img) {
        const im = new Image();
        im.onload = redraw;
        im.src = url;
        tileCache.set(url, im);
      }
    }
}

const tileCache = new Map<string, HTMLImageElement>();
