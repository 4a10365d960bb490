/* The incidents panel: open and recently resolved incidents from the incidents feed
 * (/ws/incidents), written by `sluice alerts` to the incidents topic. Text only, never HTML. */

import { $ } from './dom.js';
import { token } from './pageSettings.js';

const FIRST_BACKOFF_MS = 1000;
/** The "since … ago" texts age between messages. */
const RERENDER_MS = 10000;
const MAX_BACKOFF_MS = 30000;

/** key → incident, as the feed last sent it. */
const incidents = new Map();
let backoff = FIRST_BACKOFF_MS;
const highlighted = new URLSearchParams(location.search).get('incident');

function incidentsUrl() {
  const url = new URL('/ws/incidents', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (token) url.searchParams.set('token', token);
  return url.toString();
}

function since(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return s + ' s ago';
  if (s < 7200) return Math.round(s / 60) + ' min ago';
  return Math.round(s / 360) / 10 + ' h ago';
}

function cell(tr, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  tr.appendChild(td);
}

/** Open first, critical before warning, then the latest change first (as `sluice incidents`). */
function ordered() {
  return [...incidents.values()].sort(
    (a, b) =>
      (b.status === 'open') - (a.status === 'open') ||
      (b.severity === 'critical') - (a.severity === 'critical') ||
      Date.parse(b.updatedAt) - Date.parse(a.updatedAt),
  );
}

export function renderIncidents() {
  const table = $('incidents-table');
  if (!table) return;
  const body = table.tBodies[0];
  body.textContent = '';
  const list = ordered();
  const open = list.filter((i) => i.status === 'open').length;
  const count = $('incidents-open');
  count.textContent = open + ' open';
  count.className = 'legend-note ' + (open ? 'incidents-open' : 'incidents-none');
  if (!list.length) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    cell(tr, 'no incidents');
    tr.firstChild.colSpan = 5;
    body.appendChild(tr);
    return;
  }
  for (const i of list) {
    const tr = document.createElement('tr');
    tr.dataset.key = i.key;
    tr.dataset.status = i.status;
    tr.className =
      'incident incident-' + i.status + ' severity-' + i.severity + (i.key === highlighted ? ' highlight' : '');
    cell(tr, i.status === 'open' ? i.severity : 'resolved', 'incident-state');
    cell(tr, i.rule);
    cell(tr, i.subject);
    cell(tr, i.summary);
    cell(tr, i.status === 'open' ? 'since ' + since(i.startedAt) : 'resolved ' + since(i.resolvedAt), 'num');
    body.appendChild(tr);
  }
}

function onMessage(ev) {
  let msg;
  try {
    msg = JSON.parse(ev.data);
  } catch {
    return;
  }
  if (msg.type === 'incidents') {
    incidents.clear();
    for (const i of msg.incidents) incidents.set(i.key, i);
    backoff = FIRST_BACKOFF_MS;
  } else if (msg.type === 'incident') incidents.set(msg.incident.key, msg.incident);
  else if (msg.type === 'incident_removed') incidents.delete(msg.key);
  else return;
  renderIncidents();
}

let ageing = false;

/** Opens the incidents feed; reconnects on its own after a drop. */
export function connectIncidents() {
  if (!ageing) {
    ageing = true;
    setInterval(renderIncidents, RERENDER_MS);
  }
  let ws;
  try {
    ws = new WebSocket(incidentsUrl());
  } catch {
    setTimeout(connectIncidents, backoff);
    return;
  }
  ws.onmessage = onMessage;
  ws.onclose = () => {
    const wait = backoff;
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    setTimeout(connectIncidents, wait);
  };
}
