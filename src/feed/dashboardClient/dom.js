/* Writing to the page. Everything that comes from data is written with textContent, never as HTML. */

export function $(id) {
  return document.getElementById(id);
}

/** Sets an element's text; a KPI value that changes flashes briefly. */
export function setText(id, text) {
  const el = $(id);
  if (el.textContent === text) return;
  el.textContent = text;
  if (el.classList.contains('value')) {
    el.classList.add('flash');
    setTimeout(() => el.classList.remove('flash'), 150);
  }
}

/**
 * Replaces a table's body with `rows` (arrays of cell texts), or one row saying `emptyText`.
 * The last `row.numeric` cells (default 1) are right-aligned numbers.
 */
export function fillTable(id, rows, emptyText, cols) {
  const body = $(id).tBodies[0];
  body.textContent = '';
  if (!rows.length) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    const td = document.createElement('td');
    td.colSpan = cols;
    td.textContent = emptyText;
    tr.appendChild(td);
    body.appendChild(tr);
    return;
  }
  for (const r of rows) {
    const tr = document.createElement('tr');
    r.forEach((cell, i) => {
      const td = document.createElement('td');
      td.textContent = cell;
      if (i >= cols - (r.numeric || 1)) td.className = 'num';
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
}
