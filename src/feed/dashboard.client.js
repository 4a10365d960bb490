/* Sluice dashboard: plain browser script, no build step. Feeds uPlot charts from the live
 * WebSocket feed (/ws) and polls /metrics for late records and consumer lag. Everything that comes
 * from data is written with textContent, never as HTML. */
(function () {
  'use strict';

  var settings = JSON.parse(document.body.dataset.settings || '{}');
  var params = new URLSearchParams(location.search);
  var token = params.get('token');
  var prefix = params.get('metricPrefix') || '';
  var METRICS = {
    revenue: prefix + 'revenue_per_minute',
    orders: prefix + 'orders_per_minute',
    funnel: prefix + 'funnel_5m',
    sessions: prefix + 'active_sessions',
    dlq: prefix + 'dlq_per_minute',
  };
  var KIND_OF = {};
  Object.keys(METRICS).forEach(function (k) {
    KIND_OF[METRICS[k]] = k;
  });
  var ALL = '__all__';
  var KEEP_WINDOWS = 120;
  var PALETTE = [
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

  function $(id) {
    return document.getElementById(id);
  }
  function fmtMoney(n) {
    return n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function fmtInt(n) {
    return Math.round(n).toLocaleString('en-US');
  }
  function fmtPct(r) {
    return (r * 100).toFixed(1) + ' %';
  }
  function fmtTime(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }
  function fmtWindow(start, end) {
    var o = { hour: '2-digit', minute: '2-digit' };
    return new Date(start).toLocaleTimeString([], o) + '–' + new Date(end).toLocaleTimeString([], o);
  }

  // ---------------------------------------------------------------------------------------------
  // State: per metric, per window start, the latest result per group.

  var store = {
    revenue: new Map(), // windowStart -> { end, final, groups: Map(category -> revenue) }
    orders: new Map(), // windowStart -> { end, final, groups: Map(status -> count) }
    sessions: new Map(), // windowStart -> { end, final, value: count }
    funnel: new Map(), // windowStart -> { end, final, value: record }
    dlq: new Map(), // windowStart -> { end, final, groups: Map("source|reason" -> count) }
  };
  var lateHistory = []; // [tSeconds, total]
  var updates = 0;
  var lastUpdateAt = 0;
  var dirty = true;

  function windowOf(map, u) {
    var w = map.get(u.window.start);
    if (!w) {
      w = { end: u.window.end, final: false, groups: new Map(), value: null };
      map.set(u.window.start, w);
      if (map.size > KEEP_WINDOWS) {
        var keys = Array.from(map.keys()).sort(function (a, b) {
          return a - b;
        });
        for (var i = 0; i < keys.length - KEEP_WINDOWS; i++) map.delete(keys[i]);
      }
    }
    return w;
  }

  function apply(u) {
    var kind = KIND_OF[u.metric];
    if (!kind) return;
    var w = windowOf(store[kind], u);
    var v = u.value || {};
    w.final = u.final;
    if (kind === 'revenue') w.groups.set(String(v.category), Number(v.revenue) || 0);
    else if (kind === 'orders') w.groups.set(String(v.status), Number(v.count) || 0);
    else if (kind === 'dlq') w.groups.set(String(v.source) + '|' + String(v.reason), Number(v.count) || 0);
    else if (kind === 'sessions') w.value = Number(v.count) || 0;
    else if (kind === 'funnel') w.value = v;
    dirty = true;
  }

  function sortedWindows(map) {
    return Array.from(map.keys()).sort(function (a, b) {
      return a - b;
    });
  }
  function latest(map) {
    var ks = sortedWindows(map);
    return ks.length ? { start: ks[ks.length - 1], w: map.get(ks[ks.length - 1]) } : null;
  }
  function totalOf(w) {
    if (w.groups.has(ALL)) return w.groups.get(ALL);
    var s = 0;
    w.groups.forEach(function (v) {
      s += v;
    });
    return s;
  }

  // ---------------------------------------------------------------------------------------------
  // Connection: subscribe, keep the last cursor, resume with it after a drop.

  var cursor = null;
  var backoff = 500;
  var everLive = false;

  function setStatus(state, text, title) {
    var el = $('connection-status');
    el.dataset.state = state;
    el.className = 'status status-' + state;
    el.textContent = text;
    el.title = title || '';
  }

  function connect() {
    setStatus(everLive ? 'reconnecting' : 'connecting', everLive ? 'reconnecting…' : 'connecting…');
    var url = new URL(settings.feedPath || '/ws', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) url.searchParams.set('token', token);
    var ws;
    try {
      ws = new WebSocket(url.toString());
    } catch (e) {
      retry('cannot open the feed');
      return;
    }
    ws.onopen = function () {
      setStatus('loading', 'loading…');
      var req = {
        subscribe: Object.keys(METRICS).map(function (k) {
          return METRICS[k];
        }),
      };
      if (cursor) req.cursor = cursor;
      ws.send(JSON.stringify(req));
    };
    ws.onmessage = function (ev) {
      var msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (msg.type === 'update') {
        if (msg.cursor) cursor = msg.cursor;
        apply(msg);
        updates++;
        lastUpdateAt = Date.now();
      } else if (msg.type === 'ready') {
        cursor = msg.cursor;
        everLive = true;
        backoff = 500;
        setStatus('live', 'live', 'snapshot ' + msg.snapshot + ', replayed ' + msg.replayed);
        dirty = true;
      } else if (msg.type === 'error') {
        if (msg.code === 'INVALID_CURSOR') cursor = null;
        setStatus('offline', 'error: ' + msg.code, msg.message);
      }
    };
    ws.onclose = function (ev) {
      retry('closed (' + ev.code + (ev.reason ? ': ' + ev.reason : '') + ')');
    };
  }

  function retry(why) {
    var wait = backoff;
    backoff = Math.min(backoff * 2, 15000);
    setStatus('reconnecting', 'reconnecting in ' + Math.ceil(wait / 1000) + ' s', why);
    setTimeout(connect, wait);
  }

  // ---------------------------------------------------------------------------------------------
  // Charts (uPlot). A chart is rebuilt when its set of series changes, otherwise only fed data.

  var charts = {};

  function chartWidth(el) {
    return Math.max(280, el.clientWidth);
  }

  function lineChart(id, names, data, opts) {
    var el = $(id);
    var keyOf = names.join('\u0000');
    var height = el.classList.contains('small') ? 150 : 220;
    var c = charts[id];
    if (!data[0].length) {
      if (c) {
        c.plot.destroy();
        delete charts[id];
      }
      if (!el.querySelector('.empty-chart')) {
        el.textContent = '';
        var empty = document.createElement('div');
        empty.className = 'empty-chart';
        empty.textContent = 'waiting for ' + (opts.waitingFor || 'data') + '…';
        el.appendChild(empty);
      }
      return;
    }
    if (!c || c.key !== keyOf) {
      if (c) c.plot.destroy();
      el.textContent = '';
      var series = [{}].concat(
        names.map(function (n, i) {
          return {
            label: n,
            stroke: (opts.colors && opts.colors[i]) || PALETTE[i % PALETTE.length],
            width: i === 0 && opts.emphasizeFirst ? 2.5 : 1.5,
            dash: opts.dashed && opts.dashed[i] ? [6, 4] : undefined,
            points: { show: data[0].length < 3 },
            value: function (u, v) {
              return v == null ? '—' : opts.format ? opts.format(v) : fmtInt(v);
            },
          };
        }),
      );
      var plot = new uPlot(
        {
          width: chartWidth(el),
          height: height,
          series: series,
          legend: { show: true, live: true },
          cursor: { drag: { x: false, y: false } },
          scales: {
            x: {
              time: true,
              range: function (u, min, max) {
                return [Math.min(min, max - (opts.minXSpan || 0)), max];
              },
            },
            y: {
              range: function (u, min, max) {
                return [Math.min(0, min), max > 0 ? max * 1.1 : 1];
              },
            },
          },
          axes: [
            { stroke: '#8b98a7', grid: { stroke: '#1f2a36' }, ticks: { stroke: '#243040' } },
            {
              stroke: '#8b98a7',
              grid: { stroke: '#1f2a36' },
              ticks: { stroke: '#243040' },
              size: 64,
              values: function (u, vals) {
                return vals.map(function (v) {
                  return opts.axisFormat ? opts.axisFormat(v) : fmtInt(v);
                });
              },
            },
          ],
        },
        data,
        el,
      );
      c = charts[id] = { plot: plot, key: keyOf };
    } else {
      c.plot.setData(data);
    }
  }

  window.addEventListener('resize', function () {
    Object.keys(charts).forEach(function (id) {
      charts[id].plot.setSize({ width: chartWidth($(id)), height: charts[id].plot.height });
    });
  });

  /** x (seconds) and one column per group name, from a windowed map of groups. */
  function columns(map, names) {
    var xs = sortedWindows(map);
    var data = [
      xs.map(function (x) {
        return x / 1000;
      }),
    ];
    names.forEach(function (n) {
      data.push(
        xs.map(function (x) {
          var g = map.get(x).groups;
          return g.has(n) ? g.get(n) : null;
        }),
      );
    });
    return data;
  }

  function topGroups(map, limit, exclude) {
    var sums = new Map();
    map.forEach(function (w) {
      w.groups.forEach(function (v, k) {
        if (k !== exclude) sums.set(k, (sums.get(k) || 0) + v);
      });
    });
    return Array.from(sums.entries())
      .sort(function (a, b) {
        return b[1] - a[1];
      })
      .slice(0, limit)
      .map(function (e) {
        return e[0];
      })
      .sort();
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering

  function setText(id, text) {
    var el = $(id);
    if (el.textContent !== text) {
      el.textContent = text;
      if (el.classList.contains('value')) {
        el.classList.add('flash');
        setTimeout(function () {
          el.classList.remove('flash');
        }, 150);
      }
    }
  }

  function state(w) {
    return w.final ? 'final' : 'provisional';
  }

  function renderRevenue() {
    var l = latest(store.revenue);
    if (l) {
      var total = totalOf(l.w);
      setText('revenue-current', fmtMoney(total));
      setText(
        'revenue-text',
        'revenue this minute: ' + total.toFixed(2) + ' · ' + fmtWindow(l.start, l.w.end) + ' · ' + state(l.w),
      );
    }
    var cats = topGroups(store.revenue, 6, ALL);
    var xs = sortedWindows(store.revenue);
    var totals = xs.map(function (x) {
      return totalOf(store.revenue.get(x));
    });
    var data = columns(store.revenue, cats);
    data.splice(1, 0, totals);
    lineChart('chart-revenue', ['total'].concat(cats), data, {
      emphasizeFirst: true,
      format: fmtMoney,
      axisFormat: function (v) {
        return v >= 1000 ? (v / 1000).toFixed(1) + 'k' : fmtInt(v);
      },
      colors: ['#e6edf3'].concat(PALETTE),
      waitingFor: 'metrics.' + METRICS.revenue,
    });
  }

  function renderOrders() {
    var l = latest(store.orders);
    if (l) {
      var total = totalOf(l.w);
      setText('orders-current', fmtInt(total));
      var parts = [];
      l.w.groups.forEach(function (v, k) {
        if (k !== ALL) parts.push(k + ' ' + fmtInt(v));
      });
      setText('orders-note', parts.sort().join(' · ') || fmtWindow(l.start, l.w.end));
    }
    var statuses = topGroups(store.orders, 8, ALL);
    lineChart('chart-orders', statuses, columns(store.orders, statuses), { waitingFor: 'metrics.' + METRICS.orders });
  }

  function renderSessions() {
    var l = latest(store.sessions);
    if (l) {
      setText('sessions-current', fmtInt(l.w.value));
      setText('sessions-note', fmtWindow(l.start, l.w.end) + ' · ' + state(l.w));
    }
    var xs = sortedWindows(store.sessions);
    lineChart(
      'chart-sessions',
      ['sessions'],
      [
        xs.map(function (x) {
          return x / 1000;
        }),
        xs.map(function (x) {
          return store.sessions.get(x).value;
        }),
      ],
      { waitingFor: 'metrics.' + METRICS.sessions, colors: ['#3fb950'] },
    );
  }

  var FUNNEL_STEPS = [
    ['views', 'page views'],
    ['product_views', 'product views'],
    ['carts', 'carts'],
    ['checkouts', 'checkouts'],
    ['purchases', 'purchases'],
  ];
  var FUNNEL_RATIOS = [
    ['view_to_cart', 'view → cart'],
    ['cart_to_checkout', 'cart → checkout'],
    ['checkout_to_purchase', 'checkout → purchase'],
    ['view_to_purchase', 'view → purchase'],
  ];

  function renderFunnel() {
    var l = latest(store.funnel);
    var box = $('funnel');
    if (!l) {
      if (!box.firstChild) {
        var e = document.createElement('div');
        e.className = 'legend-note';
        e.textContent = 'waiting for metrics.' + METRICS.funnel + '…';
        box.appendChild(e);
      }
      lineChart('chart-funnel', ['view → purchase'], [[]], { waitingFor: 'metrics.' + METRICS.funnel });
      return;
    }
    var v = l.w.value || {};
    setText('funnel-window', fmtWindow(l.start, l.w.end) + ' · ' + state(l.w));
    setText('conversion-current', fmtPct(Number(v.view_to_purchase) || 0));
    setText(
      'conversion-note',
      fmtInt(Number(v.purchases) || 0) + ' purchases of ' + fmtInt(Number(v.views) || 0) + ' viewing sessions',
    );
    var max = Math.max(1, Number(v.views) || 0, Number(v.product_views) || 0);
    box.textContent = '';
    FUNNEL_STEPS.forEach(function (s) {
      var n = Number(v[s[0]]) || 0;
      var row = document.createElement('div');
      row.className = 'step';
      row.dataset.step = s[0];
      var label = document.createElement('span');
      label.className = 'label';
      label.textContent = s[1];
      var bar = document.createElement('div');
      bar.className = 'bar';
      var fill = document.createElement('div');
      fill.className = 'fill';
      fill.style.width = Math.min(100, (n / max) * 100).toFixed(1) + '%';
      bar.appendChild(fill);
      var count = document.createElement('span');
      count.className = 'count';
      count.textContent = fmtInt(n);
      row.appendChild(label);
      row.appendChild(bar);
      row.appendChild(count);
      box.appendChild(row);
    });
    var ratios = document.createElement('div');
    ratios.className = 'ratios';
    ratios.dataset.testid = 'funnel-ratios';
    FUNNEL_RATIOS.forEach(function (r) {
      var span = document.createElement('span');
      span.appendChild(document.createTextNode(r[1] + ' '));
      var b = document.createElement('b');
      b.textContent = fmtPct(Number(v[r[0]]) || 0);
      span.appendChild(b);
      ratios.appendChild(span);
    });
    box.appendChild(ratios);
    var xs = sortedWindows(store.funnel);
    var series = FUNNEL_RATIOS.map(function (r) {
      return xs.map(function (x) {
        var fv = store.funnel.get(x).value || {};
        return (Number(fv[r[0]]) || 0) * 100;
      });
    });
    lineChart(
      'chart-funnel',
      FUNNEL_RATIOS.map(function (r) {
        return r[1];
      }),
      [
        xs.map(function (x) {
          return x / 1000;
        }),
      ].concat(series),
      {
        format: function (p) {
          return p.toFixed(1) + ' %';
        },
        axisFormat: function (p) {
          return p.toFixed(0) + '%';
        },
        waitingFor: 'metrics.' + METRICS.funnel,
      },
    );
  }

  function fillTable(id, rows, emptyText, cols) {
    var body = $(id).tBodies[0];
    body.textContent = '';
    if (!rows.length) {
      var tr = document.createElement('tr');
      tr.className = 'empty';
      var td = document.createElement('td');
      td.colSpan = cols;
      td.textContent = emptyText;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      r.forEach(function (cell, i) {
        var td = document.createElement('td');
        td.textContent = cell;
        if (i >= cols - (r.numeric || 1)) td.className = 'num';
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function renderDlq() {
    var l = latest(store.dlq);
    var hourAgo = Date.now() - 3600e3;
    var hour = new Map();
    store.dlq.forEach(function (w, start) {
      if (start >= hourAgo)
        w.groups.forEach(function (v, k) {
          hour.set(k, (hour.get(k) || 0) + v);
        });
    });
    if (l) {
      setText('dlq-current', fmtInt(totalOf(l.w)));
      setText(
        'dlq-note',
        fmtWindow(l.start, l.w.end) +
          ' · ' +
          fmtInt(
            Array.from(hour.values()).reduce(function (a, b) {
              return a + b;
            }, 0),
          ) +
          ' in the last hour',
      );
    }
    var rows = Array.from(hour.keys())
      .sort()
      .map(function (k) {
        var parts = k.split('|');
        var r = [parts[0], parts[1], fmtInt(l && l.w.groups.has(k) ? l.w.groups.get(k) : 0), fmtInt(hour.get(k))];
        r.numeric = 2;
        return r;
      });
    fillTable('dlq-table', rows, 'no dead-letter records', 4);
    var sources = topGroups(store.dlq, 6);
    lineChart(
      'chart-dlq',
      sources.map(function (k) {
        return k.replace('|', ' · ');
      }),
      columns(store.dlq, sources),
      { waitingFor: 'metrics.' + METRICS.dlq },
    );
  }

  function renderHeader() {
    setText('updates-count', fmtInt(updates));
    setText('last-update', lastUpdateAt ? fmtTime(lastUpdateAt) : '—');
  }

  function render() {
    if (!dirty) return;
    dirty = false;
    renderHeader();
    renderRevenue();
    renderOrders();
    renderSessions();
    renderFunnel();
    renderDlq();
  }
  setInterval(render, 250);

  // ---------------------------------------------------------------------------------------------
  // Prometheus text from /metrics: late records and consumer lag.

  function parseProm(text) {
    var out = [];
    text.split('\n').forEach(function (line) {
      if (!line || line.charAt(0) === '#') return;
      var m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) return;
      var labels = {};
      var re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      var lm;
      while ((lm = re.exec(m[2] || ''))) labels[lm[1]] = lm[2].replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
      out.push({ name: m[1], labels: labels, value: Number(m[3]) });
    });
    return out;
  }

  function renderProm(samples) {
    var late = samples.filter(function (s) {
      return s.name === 'sluice_records_late_total';
    });
    var lag = samples.filter(function (s) {
      return s.name === 'sluice_consumer_lag';
    });
    var lateTotal = late.reduce(function (a, s) {
      return a + s.value;
    }, 0);
    setText('late-total', late.length ? fmtInt(lateTotal) : '0');
    setText('late-note', late.length ? 'in ' + late.length + ' window store(s)' : 'none reported by this process');
    fillTable(
      'late-table',
      late.map(function (s) {
        return [s.labels.topology || '—', s.labels.store || s.labels.topic || '—', fmtInt(s.value)];
      }),
      'no late records',
      3,
    );
    lateHistory.push([Date.now() / 1000, lateTotal]);
    if (lateHistory.length > 360) lateHistory.shift();
    lineChart(
      'chart-late',
      ['late records (total)'],
      [
        lateHistory.map(function (p) {
          return p[0];
        }),
        lateHistory.map(function (p) {
          return p[1];
        }),
      ],
      { colors: ['#d29922'], waitingFor: '/metrics', minXSpan: 300 },
    );

    var groups = new Map();
    lag.forEach(function (s) {
      var k = (s.labels.topology || '—') + '\u0000' + (s.labels.topic || '—');
      var g = groups.get(k) || { n: 0, lag: 0 };
      g.n++;
      g.lag += s.value;
      groups.set(k, g);
    });
    var lagTotal = lag.reduce(function (a, s) {
      return a + s.value;
    }, 0);
    setText('lag-total', lag.length ? fmtInt(lagTotal) : '—');
    setText(
      'lag-note',
      lag.length ? groups.size + ' topic(s), ' + lag.length + ' partition(s)' : 'no consumers in this process',
    );
    var rows = Array.from(groups.keys())
      .sort()
      .map(function (k) {
        var parts = k.split('\u0000');
        var r = [parts[0], parts[1], String(groups.get(k).n), fmtInt(groups.get(k).lag)];
        r.numeric = 2;
        return r;
      });
    fillTable('lag-table', rows, 'no consumers in this process', 4);
  }

  function pollMetrics() {
    fetch(settings.metricsPath || '/metrics', { cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.text();
      })
      .then(function (text) {
        renderProm(parseProm(text));
        $('metrics-status').textContent = '/metrics read at ' + fmtTime(Date.now());
      })
      .catch(function (err) {
        $('metrics-status').textContent = '/metrics unavailable: ' + err.message;
      })
      .then(function () {
        setTimeout(pollMetrics, settings.metricsPollMs || 5000);
      });
  }

  render();
  connect();
  pollMetrics();
})();
