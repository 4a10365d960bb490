/* The funnel panel: step bars and ratios of the latest 5-minute window, and the ratios over time. */

import { $, setText } from './dom.js';
import { fmtInt, fmtPct, fmtWindow } from './format.js';
import { lineChart } from './lineChart.js';
import { METRICS } from './pageSettings.js';
import { latest, sortedWindows, stateOf, store } from './windowStore.js';

const FUNNEL_STEPS = [
  ['views', 'page views'],
  ['product_views', 'product views'],
  ['carts', 'carts'],
  ['checkouts', 'checkouts'],
  ['purchases', 'purchases'],
];
const FUNNEL_RATIOS = [
  ['view_to_cart', 'view → cart'],
  ['cart_to_checkout', 'cart → checkout'],
  ['checkout_to_purchase', 'checkout → purchase'],
  ['view_to_purchase', 'view → purchase'],
];

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function stepRow(step, label, n, max) {
  const row = el('div', 'step');
  row.dataset.step = step;
  const bar = el('div', 'bar');
  const fill = el('div', 'fill');
  fill.style.width = Math.min(100, (n / max) * 100).toFixed(1) + '%';
  bar.appendChild(fill);
  row.appendChild(el('span', 'label', label));
  row.appendChild(bar);
  row.appendChild(el('span', 'count', fmtInt(n)));
  return row;
}

function ratiosRow(v) {
  const ratios = el('div', 'ratios');
  ratios.dataset.testid = 'funnel-ratios';
  for (const [field, label] of FUNNEL_RATIOS) {
    const span = document.createElement('span');
    span.appendChild(document.createTextNode(label + ' '));
    span.appendChild(el('b', '', fmtPct(Number(v[field]) || 0)));
    ratios.appendChild(span);
  }
  return ratios;
}

/** The step bars (scaled to the larger of views and product views) and the ratios. */
function renderSteps(box, v) {
  const max = Math.max(1, Number(v.views) || 0, Number(v.product_views) || 0);
  box.textContent = '';
  for (const [step, label] of FUNNEL_STEPS) box.appendChild(stepRow(step, label, Number(v[step]) || 0, max));
  box.appendChild(ratiosRow(v));
}

function renderRatioChart() {
  const xs = sortedWindows(store.funnel);
  const series = FUNNEL_RATIOS.map(([field]) => xs.map((x) => (Number(store.funnel.get(x).value?.[field]) || 0) * 100));
  lineChart(
    'chart-funnel',
    FUNNEL_RATIOS.map((r) => r[1]),
    [xs.map((x) => x / 1000)].concat(series),
    {
      format: (p) => p.toFixed(1) + ' %',
      axisFormat: (p) => p.toFixed(0) + '%',
      waitingFor: 'metrics.' + METRICS.funnel,
    },
  );
}

function renderWaiting(box) {
  if (!box.firstChild) box.appendChild(el('div', 'legend-note', 'waiting for metrics.' + METRICS.funnel + '…'));
  lineChart('chart-funnel', ['view → purchase'], [[]], { waitingFor: 'metrics.' + METRICS.funnel });
}

export function renderFunnel() {
  const l = latest(store.funnel);
  const box = $('funnel');
  if (!l) {
    renderWaiting(box);
    return;
  }
  const v = l.w.value || {};
  setText('funnel-window', fmtWindow(l.start, l.w.end) + ' · ' + stateOf(l.w));
  setText('conversion-current', fmtPct(Number(v.view_to_purchase) || 0));
  setText(
    'conversion-note',
    fmtInt(Number(v.purchases) || 0) + ' purchases of ' + fmtInt(Number(v.views) || 0) + ' viewing sessions',
  );
  renderSteps(box, v);
  renderRatioChart();
}
