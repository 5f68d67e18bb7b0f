// Drawing for the demo page: one colour rule for every panel — dark = 0 (masked, or a pair never
// computed), bright = large — a heatmap figure (canvas, axis titles "query position" / "key
// position" with tick labels, a colour-scale legend with value ticks) and the sparsity panel
// (bright = pair computed, black = not computed).

/** Colour ramp from black (0) through purple, blue and green to yellow (1). */
const STOPS = [[0, 0, 0], [68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

/** t in [0, 1] → [r, g, b] on the ramp. */
export function ramp(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS[i];
  const b = STOPS[i + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}

/** Colour of a value given the panel's largest magnitude: square-root scale, so small weights show. */
const scale = (x: number, max: number) => Math.sqrt(Math.abs(x) / (max || 1));

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** About five tick positions over 0 … n − 1. */
function ticks(n: number): number[] {
  const step = Math.max(1, Math.round(n / 4));
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  if (n - 1 - out[out.length - 1] < step / 2) out.pop();
  out.push(n - 1);
  return out;
}

/** Paints an n × n block of `w` (from `offset`) into `canvas`; returns the largest magnitude. */
export function paint(canvas: HTMLCanvasElement, w: ArrayLike<number>, offset: number, n: number): number {
  canvas.width = n;
  canvas.height = n;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(n, n);
  let max = 0;
  for (let i = 0; i < n * n; i++) max = Math.max(max, Math.abs(w[offset + i]));
  for (let i = 0; i < n * n; i++) {
    const [r, g, b] = ramp(scale(w[offset + i], max));
    img.data[4 * i] = r;
    img.data[4 * i + 1] = g;
    img.data[4 * i + 2] = b;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return max;
}

/** A colour-scale legend: a vertical bar from `max` (top) to 0 (bottom) with value ticks. */
export function legend(max: number, title: string): HTMLElement {
  const box = el('div', 'legend');
  box.append(el('span', 'legend-title', title));
  const body = el('div', 'legend-body');
  const bar = el('canvas', 'legend-bar');
  bar.width = 1;
  bar.height = 128;
  const ctx = bar.getContext('2d')!;
  for (let y = 0; y < 128; y++) {
    const [r, g, b] = ramp(1 - y / 127);
    ctx.fillStyle = `rgb(${r | 0},${g | 0},${b | 0})`;
    ctx.fillRect(0, y, 1, 1);
  }
  const labels = el('div', 'legend-ticks');
  // Ticks at even colour steps; the value there follows the square-root scale: max·t².
  for (const t of [1, 0.75, 0.5, 0.25, 0]) labels.append(el('span', 'legend-tick', formatValue(max * t * t)));
  body.append(bar, labels);
  box.append(body);
  return box;
}

const formatValue = (x: number) => (x === 0 ? '0' : x >= 0.01 ? x.toFixed(2) : x.toExponential(0));

/**
 * A heatmap figure: the canvas between axis titles and ticks, the legend beside it. `tip(i, j)`
 * (optional) gives the tooltip text of a cell. Returns the figure and its canvas.
 */
export function heatmapFigure(
  w: ArrayLike<number>, offset: number, n: number, caption: string, label: string,
  tip?: (i: number, j: number) => string,
): { figure: HTMLElement; canvas: HTMLCanvasElement } {
  const figure = el('figure', 'heatmap-figure');
  const canvas = el('canvas', 'heatmap');
  canvas.setAttribute('aria-label', label);
  const max = paint(canvas, w, offset, n);
  const plot = el('div', 'plot');
  const yTitle = el('span', 'axis-title axis-y', 'query position');
  const yTicks = el('div', 'ticks ticks-y');
  const xTicks = el('div', 'ticks ticks-x');
  for (const t of ticks(n)) {
    const ty = el('span', 'tick', String(t));
    ty.style.top = `${((t + 0.5) / n) * 100}%`;
    yTicks.append(ty);
    const tx = el('span', 'tick', String(t));
    tx.style.left = `${((t + 0.5) / n) * 100}%`;
    xTicks.append(tx);
  }
  const xTitle = el('span', 'axis-title axis-x', 'key position');
  const cell = el('div', 'plot-canvas');
  cell.append(canvas, xTicks);
  plot.append(yTitle, yTicks, cell, legend(max, 'weight'));
  if (tip) {
    canvas.addEventListener('mousemove', (e) => {
      const r = canvas.getBoundingClientRect();
      const j = Math.min(n - 1, Math.floor(((e.clientX - r.left) / r.width) * n));
      const i = Math.min(n - 1, Math.floor(((e.clientY - r.top) / r.height) * n));
      canvas.title = `${tip(i, j)}: ${formatValue(w[offset + i * n + j])}`;
    });
  }
  figure.append(plot, xTitle, el('figcaption', '', caption));
  return { figure, canvas };
}

/**
 * The sparsity panel: pairs (i, j) with computed(i, j) bright, the others black (the heatmaps'
 * rule: dark = not computed). Returns the share of pairs drawn as computed.
 */
export function paintPattern(canvas: HTMLCanvasElement, n: number, computed: (i: number, j: number) => boolean): number {
  canvas.width = n;
  canvas.height = n;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(n, n);
  const [r, g, b] = ramp(1);
  let on = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const c = computed(i, j);
      if (c) on++;
      const o = 4 * (i * n + j);
      img.data[o] = c ? r : 0;
      img.data[o + 1] = c ? g : 0;
      img.data[o + 2] = c ? b : 0;
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return on / (n * n);
}
