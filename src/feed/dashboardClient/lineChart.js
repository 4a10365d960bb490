/* Line charts (uPlot, loaded by its own script before this module as the global `uPlot`). A chart
 * is rebuilt when its set of series changes, otherwise only fed new data. */

import { $ } from './dom.js';
import { fmtInt } from './format.js';

export const PALETTE = [
  '#4cc2ff',
  '#f2cc60',
  '#3fb950',
  '#ff7b72',
  '#d2a8ff',
  '#ffa657',
  '#79c0ff',
  '#56d4dd',
  '#e3b341',
  '#a5d6ff',
];

/** Element id -> { plot, key: the series names it was built for }. */
const charts = {};

function chartWidth(el) {
  return Math.max(280, el.clientWidth);
}

/** No data: the chart (if any) makes way for a "waiting for …" note. */
function showWaiting(el, id, opts) {
  const c = charts[id];
  if (c) {
    c.plot.destroy();
    delete charts[id];
  }
  if (el.querySelector('.empty-chart')) return;
  el.textContent = '';
  const empty = document.createElement('div');
  empty.className = 'empty-chart';
  empty.textContent = 'waiting for ' + (opts.waitingFor || 'data') + '…';
  el.appendChild(empty);
}

function seriesOf(names, pointCount, opts) {
  const lines = names.map((n, i) => ({
    label: n,
    stroke: opts.colors?.[i] || PALETTE[i % PALETTE.length],
    width: i === 0 && opts.emphasizeFirst ? 2.5 : 1.5,
    points: { show: pointCount < 3 },
    value: (_u, v) => (v == null ? '—' : opts.format ? opts.format(v) : fmtInt(v)),
  }));
  return [{}].concat(lines);
}

function axesOf(opts) {
  // Fresh objects per axis: uPlot keeps and fills in the ones it is given.
  const style = () => ({ stroke: '#8b98a7', grid: { stroke: '#1f2a36' }, ticks: { stroke: '#243040' } });
  return [
    style(),
    {
      ...style(),
      size: 64,
      values: (_u, vals) => vals.map((v) => (opts.axisFormat ? opts.axisFormat(v) : fmtInt(v))),
    },
  ];
}

function buildPlot(el, names, data, opts) {
  return new window.uPlot(
    {
      width: chartWidth(el),
      height: el.classList.contains('small') ? 150 : 220,
      series: seriesOf(names, data[0].length, opts),
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: (_u, min, max) => [Math.min(min, max - (opts.minXSpan || 0)), max] },
        y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
      },
      axes: axesOf(opts),
    },
    data,
    el,
  );
}

/**
 * Draws `data` (x in seconds, then one column per name) into the element `id`. Options: colors,
 * emphasizeFirst, format (legend values), axisFormat, minXSpan (seconds), waitingFor.
 */
export function lineChart(id, names, data, opts) {
  const el = $(id);
  if (!data[0].length) {
    showWaiting(el, id, opts);
    return;
  }
  const key = names.join('\u0000');
  const c = charts[id];
  if (c && c.key === key) {
    c.plot.setData(data);
    return;
  }
  if (c) c.plot.destroy();
  el.textContent = '';
  charts[id] = { plot: buildPlot(el, names, data, opts), key };
}

/** Charts follow the width of their panels. */
export function resizeChartsWithWindow() {
  window.addEventListener('resize', () => {
    for (const id of Object.keys(charts)) {
      charts[id].plot.setSize({ width: chartWidth($(id)), height: charts[id].plot.height });
    }
  });
}
