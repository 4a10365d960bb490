/* Number and time formats of the page (en-US numbers, the browser's local time). */

export function fmtMoney(n) {
  return n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export function fmtInt(n) {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtPct(r) {
  return (r * 100).toFixed(1) + ' %';
}

export function fmtTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtWindow(start, end) {
  const o = { hour: '2-digit', minute: '2-digit' };
  return new Date(start).toLocaleTimeString([], o) + '–' + new Date(end).toLocaleTimeString([], o);
}
