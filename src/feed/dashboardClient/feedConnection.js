/* The connection to the live feed: subscribe, keep the last cursor, resume with it after a drop. */

import { $ } from './dom.js';
import { METRICS, settings, token } from './pageSettings.js';
import { applyUpdate, feedState } from './windowStore.js';

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 15000;

let cursor = null;
let backoff = FIRST_BACKOFF_MS;
let everLive = false;

function setStatus(state, text, title) {
  const el = $('connection-status');
  el.dataset.state = state;
  el.className = 'status status-' + state;
  el.textContent = text;
  el.title = title || '';
}

function feedUrl() {
  const url = new URL(settings.feedPath || '/ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (token) url.searchParams.set('token', token);
  return url.toString();
}

/** Subscribes to every metric the page shows, from the last cursor when there is one. */
function subscribe(ws) {
  setStatus('loading', 'loading…');
  const req = { subscribe: Object.values(METRICS) };
  if (cursor) req.cursor = cursor;
  ws.send(JSON.stringify(req));
}

function onMessage(ev) {
  let msg;
  try {
    msg = JSON.parse(ev.data);
  } catch {
    return;
  }
  if (msg.type === 'update') {
    if (msg.cursor) cursor = msg.cursor;
    applyUpdate(msg);
    feedState.updates++;
    feedState.lastUpdateAt = Date.now();
  } else if (msg.type === 'ready') {
    cursor = msg.cursor;
    everLive = true;
    backoff = FIRST_BACKOFF_MS;
    setStatus('live', 'live', 'snapshot ' + msg.snapshot + ', replayed ' + msg.replayed);
    feedState.dirty = true;
  } else if (msg.type === 'error') {
    // A cursor the feed refuses would be refused again: the next connection starts from a snapshot.
    if (msg.code === 'INVALID_CURSOR') cursor = null;
    setStatus('offline', 'error: ' + msg.code, msg.message);
  }
}

/** Reconnects after a growing pause (reset once the feed says ready). */
function retry(why) {
  const wait = backoff;
  backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  setStatus('reconnecting', 'reconnecting in ' + Math.ceil(wait / 1000) + ' s', why);
  setTimeout(connectFeed, wait);
}

/** Opens the feed; reconnects on its own whenever the connection drops. */
export function connectFeed() {
  setStatus(everLive ? 'reconnecting' : 'connecting', everLive ? 'reconnecting…' : 'connecting…');
  const url = feedUrl();
  let ws;
  try {
    ws = new WebSocket(url);
  } catch {
    retry('cannot open the feed');
    return;
  }
  ws.onopen = () => subscribe(ws);
  ws.onmessage = onMessage;
  ws.onclose = (ev) => retry('closed (' + ev.code + (ev.reason ? ': ' + ev.reason : '') + ')');
}
