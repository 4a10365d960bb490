/* The catalog page (/catalog): one row per topic and warehouse table from /api/catalog, what
 * `sluice catalog --json` prints. The feed token of the page's own URL (?token=) is passed on. */

const token = new URLSearchParams(location.search).get('token');
const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);

/** A cell with text only: catalog content is data, never markup. */
function cell(text, title) {
  const td = document.createElement('td');
  td.textContent = text;
  if (title) td.title = title;
  return td;
}

const links = (list) => list.map((l) => l.name).join(', ') || '—';

function freshnessText(f) {
  if (!f) return '—';
  const age = typeof f.ageSeconds === 'number' ? ` (${Math.round(f.ageSeconds)} s)` : '';
  return `${f.state}${age}`;
}

function qualityText(q) {
  const parts = [];
  if (q.rules.length) parts.push(`${q.rules.length} rules`);
  if (q.tests.length) parts.push(`${q.tests.length} tests`);
  if (q.dlq.length) parts.push(`DLQ ${q.dlq.join(', ')}`);
  return parts.join('; ') || '—';
}

function row(e) {
  const tr = document.createElement('tr');
  tr.dataset.name = e.name;
  const pii = e.fields.filter((f) => f.pii);
  const owner = e.owner ? e.owner.team : '—';
  const versions = e.schema.versions?.length ? e.schema.versions.join(', ') : e.schema.status;
  tr.append(
    cell(e.name, e.description),
    cell(e.kind),
    cell(owner, e.owner?.contact),
    cell(versions, e.schema.subject ?? ''),
    cell(`${e.fields.length} (${pii.length})`, pii.map((f) => `${f.name}: ${f.pii}`).join('\n')),
    cell(links(e.upstream)),
    cell(links(e.downstream)),
    cell(freshnessText(e.freshness), e.freshness?.detail),
    cell(qualityText(e.quality)),
  );
  tr.dataset.search = [e.name, owner, ...e.fields.map((f) => f.name)].join(' ').toLowerCase();
  return tr;
}

function setStatus(state, text) {
  const el = document.getElementById('catalog-status');
  el.className = `status status-${state}`;
  el.dataset.state = state;
  el.textContent = text;
}

async function load() {
  const res = await fetch(withToken('/api/catalog'));
  if (!res.ok) {
    setStatus('offline', res.status === 401 ? 'the feed token is missing or wrong (?token=)' : `error ${res.status}`);
    return;
  }
  const { at, entries } = await res.json();
  document.getElementById('catalog-rows').replaceChildren(...entries.map(row));
  setStatus('live', `${entries.length} entries, ${new Date(at).toLocaleTimeString()}`);
}

document.getElementById('live-link').href = withToken('/');
document.getElementById('catalog-filter').addEventListener('input', (ev) => {
  const q = ev.target.value.trim().toLowerCase();
  for (const tr of document.getElementById('catalog-rows').children)
    tr.hidden = q !== '' && !tr.dataset.search.includes(q);
});
load().catch((err) => setStatus('offline', String(err)));
