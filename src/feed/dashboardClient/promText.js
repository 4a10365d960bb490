/* The Prometheus text format, as much of it as the page needs: samples with their labels. */

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;

function labelsOf(text) {
  const labels = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  let m;
  while ((m = re.exec(text))) labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
  return labels;
}

/** Every sample of a /metrics response as `{ name, labels, value }`; comments are skipped. */
export function parseProm(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.charAt(0) === '#') continue;
    const m = SAMPLE.exec(line);
    if (m) out.push({ name: m[1], labels: labelsOf(m[2] || ''), value: Number(m[3]) });
  }
  return out;
}
