// Kagura's web dashboard: reads the JSON API of `kagura dashboard --web` and redraws every few
// seconds. Everything that comes from the store reaches the page as text (textContent, or
// Chart.js drawing on a canvas), never as markup.
'use strict';

(() => {
  const REFRESH_MS = 3000;
  const token = new URLSearchParams(window.location.search).get('token');
  const state = {
    filters: { agent: '', status: '', since: '' },
    offset: 0,
    limit: 25,
    total: 0,
    traceId: null,
    timeseriesChart: null,
    modelChart: null,
    refreshing: false,
  };

  // ---- formatting (the same as the kagura command's) ----

  function formatCount(n) {
    return Number(n).toLocaleString('en-US', { maximumFractionDigits: 0 });
  }
  function formatCost(usd) {
    if (usd !== 0 && Math.abs(usd) < 0.0001) return '$' + usd.toFixed(6);
    return '$' + usd.toFixed(4);
  }
  function formatPercent(fraction) {
    return (fraction * 100).toFixed(1) + '%';
  }
  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds) || seconds < 0) return '-';
    if (seconds < 1e-3) return (seconds * 1e6).toFixed(0) + 'µs';
    if (seconds < 1) return (seconds * 1e3).toFixed(0) + 'ms';
    if (seconds < 60) return seconds.toFixed(2) + 's';
    const minutes = Math.floor(seconds / 60);
    return minutes + 'm' + String(Math.round(seconds - minutes * 60)).padStart(2, '0') + 's';
  }
  function formatTime(unix) {
    return new Date(unix * 1000).toISOString().replace('T', ' ').slice(0, 19);
  }
  function formatRelative(unix) {
    const ago = Date.now() / 1000 - unix;
    if (ago < 1 && ago > -60) return 'just now';
    if (ago < 0 || ago >= 7 * 86400) return formatTime(unix);
    if (ago < 60) return Math.floor(ago) + 's ago';
    if (ago < 3600) return Math.floor(ago / 60) + 'm ago';
    if (ago < 86400) return Math.floor(ago / 3600) + 'h ago';
    return Math.floor(ago / 86400) + 'd ago';
  }
  function costText(metrics) {
    if (metrics.unpriced_llm_calls > 0 && metrics.unpriced_llm_calls === metrics.llm_calls) {
      return 'unpriced';
    }
    const cost = formatCost(metrics.total_cost);
    return metrics.unpriced_llm_calls > 0 ? '≥' + cost : cost;
  }

  // ---- DOM helpers: text only ----

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function setText(id, text) {
    document.getElementById(id).textContent = text;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // ---- the API ----

  async function api(path, params) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== '' && value !== null && value !== undefined) query.set(name, value);
    }
    const url = path + (query.toString() ? '?' + query.toString() : '');
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    const response = await fetch(url, { headers, cache: 'no-store' });
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      throw new Error(path + ' answered ' + response.status + ' without JSON');
    }
    if (!response.ok) throw new Error(body && body.error ? body.error : path + ': ' + response.status);
    return body;
  }

  function showError(message) {
    const node = document.getElementById('error');
    node.textContent = message;
    node.hidden = !message;
  }

  // ---- totals ----

  function renderSummary(s) {
    const total = document.getElementById('total-executions');
    total.textContent = formatCount(s.total_executions);
    total.dataset.value = String(s.total_executions);
    setText('total-breakdown', 'completed ' + formatCount(s.completed) + ', failed ' +
            formatCount(s.failed) + ', running ' + formatCount(s.running));
    setText('success-rate', formatPercent(s.success_rate));
    setText('p50-latency', formatDuration(s.p50_duration));
    setText('avg-latency', 'average ' + formatDuration(s.avg_duration));
    setText('p95-latency', formatDuration(s.p95_duration));
    setText('p99-latency', 'p99 ' + formatDuration(s.p99_duration));
    setText('total-cost', formatCost(s.total_cost));
    setText('total-tokens', formatCount(s.total_tokens) + ' tokens' +
            (s.unpriced_llm_calls > 0 ? ', ' + formatCount(s.unpriced_llm_calls) +
             ' unpriced LLM calls not included' : ''));
  }

  // ---- charts ----

  function renderTimeseries(series) {
    const labels = series.points.map((p) => p.key);
    const executions = series.points.map((p) => p.executions);
    const costs = series.points.map((p) => p.cost);
    if (state.timeseriesChart) {
      const chart = state.timeseriesChart;
      chart.data.labels = labels;
      chart.data.datasets[0].data = executions;
      chart.data.datasets[1].data = costs;
      chart.update('none');
      return;
    }
    state.timeseriesChart = new window.Chart(document.getElementById('timeseries-chart'), {
      data: {
        labels,
        datasets: [
          { type: 'bar', label: 'executions', data: executions, yAxisID: 'executions',
            backgroundColor: 'rgba(59, 111, 216, 0.35)', borderColor: '#3b6fd8', borderWidth: 1 },
          { type: 'line', label: 'cost (USD)', data: costs, yAxisID: 'cost',
            borderColor: '#c2572f', backgroundColor: '#c2572f', tension: 0.25, pointRadius: 2 },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: {
            title: { display: true, text: 'UTC' },
            ticks: {
              maxRotation: 0,
              autoSkip: true,
              // "2025-01-10 13:00" as "13:00" by the hour, "01-10" by the day; tooltips keep it whole.
              callback(value) {
                const key = String(this.getLabelForValue(value));
                return key.length > 10 ? key.slice(11) : key.slice(5);
              },
            },
          },
          executions: { position: 'left', beginAtZero: true, title: { display: true, text: 'executions' } },
          cost: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false },
                  title: { display: true, text: 'USD' } },
        },
      },
    });
  }

  const PALETTE = ['#3b6fd8', '#c2572f', '#1e8a4c', '#b7791f', '#7b4fc9', '#2a9db0', '#c23b6e',
                   '#6a7282'];

  function renderModelCost(cost) {
    const groups = cost.groups.filter((g) => g.llm_calls > 0);
    document.getElementById('model-empty').hidden = groups.length > 0;
    const labels = groups.map((g) => g.key || '(none)');
    const values = groups.map((g) => g.cost);
    if (state.modelChart) {
      state.modelChart.data.labels = labels;
      state.modelChart.data.datasets[0].data = values;
      state.modelChart.data.datasets[0].backgroundColor = labels.map((_, i) => PALETTE[i % PALETTE.length]);
      state.modelChart.update('none');
      return;
    }
    state.modelChart = new window.Chart(document.getElementById('model-chart'), {
      type: 'doughnut',
      data: {
        labels,
        datasets: [{ label: 'cost (USD)', data: values,
                     backgroundColor: labels.map((_, i) => PALETTE[i % PALETTE.length]) }],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: {
          legend: { position: 'bottom' },
          tooltip: { callbacks: { label: (item) => ' ' + item.label + ': ' + formatCost(item.parsed) } },
        },
      },
    });
  }

  // ---- agents ----

  function renderAgents(result) {
    const body = document.querySelector('#agents-table tbody');
    clear(body);
    const names = document.getElementById('agent-names');
    clear(names);
    for (const a of result.agents) {
      const row = el('tr');
      row.append(el('td', a.agent, 'agent'), el('td', formatCount(a.runs), 'num'),
                 el('td', formatCount(a.failed), 'num'), el('td', formatPercent(a.success_rate), 'num'),
                 el('td', formatDuration(a.p50_duration), 'num'),
                 el('td', formatDuration(a.p95_duration), 'num'),
                 el('td', a.tokens_per_run === null ? '-' : formatCount(Math.round(a.tokens_per_run)), 'num'),
                 el('td', a.cost_per_run === null ? '-' : formatCost(a.cost_per_run), 'num'),
                 el('td', formatCost(a.total_cost), 'num'));
      body.append(row);
      const option = document.createElement('option');
      option.value = a.agent;
      names.append(option);
    }
    if (result.agents.length === 0) {
      const row = el('tr');
      const cell = el('td', 'No executions yet.', 'empty');
      cell.colSpan = 9;
      row.append(cell);
      body.append(row);
    }
  }

  // ---- executions ----

  function renderExecutions(result) {
    state.total = result.total;
    const body = document.querySelector('#executions-table tbody');
    clear(body);
    for (const e of result.executions) {
      const row = el('tr');
      row.dataset.id = e.id;
      if (e.id === state.traceId) row.classList.add('selected');
      row.append(el('td', formatRelative(e.started_at)), el('td', e.agent_name, 'agent'),
                 el('td', e.models.length ? e.models.join(', ') : '-'),
                 el('td', e.status, 'status status-' + e.status),
                 el('td', formatDuration(e.duration), 'num'),
                 el('td', formatCount(e.metrics.total_tokens), 'num'),
                 el('td', costText(e.metrics), 'num'), el('td', e.id, 'id'));
      row.title = formatTime(e.started_at) + ' UTC';
      row.addEventListener('click', () => openTrace(e.id));
      body.append(row);
    }
    if (result.executions.length === 0) {
      const row = el('tr');
      const cell = el('td', 'No executions match these filters.', 'empty');
      cell.colSpan = 8;
      row.append(cell);
      body.append(row);
    }
    const first = result.executions.length ? state.offset + 1 : 0;
    const count = document.getElementById('executions-count');
    count.textContent = formatCount(first) + '–' + formatCount(state.offset + result.executions.length) +
        ' of ' + formatCount(result.total);
    count.dataset.total = String(result.total);
    document.getElementById('page-prev').disabled = state.offset === 0;
    document.getElementById('page-next').disabled = state.offset + state.limit >= result.total;
  }

  // ---- one execution's trace ----

  function eventText(event) {
    const d = event.data || {};
    switch (event.type) {
      case 'llm_call': {
        let text = (d.model || '?') + '  ' + formatCount(d.prompt_tokens || 0) + '→' +
                   formatCount(d.completion_tokens || 0) + ' tokens';
        if (d.cached_tokens) text += ' (cached ' + formatCount(d.cached_tokens) + ')';
        text += '  ' + (d.priced === false ? 'unpriced' : formatCost(d.cost || 0));
        text += '  ' + formatDuration(d.duration);
        if (d.finish_reason) text += '  finish ' + d.finish_reason;
        return text;
      }
      case 'tool_call':
        return (d.tool_name || '?') + '  ' + formatDuration(d.duration) + '  ' +
               (d.success === false ? 'failed' + (d.error ? ': ' + d.error : '') : 'ok');
      case 'memory_operation':
        return (d.operation || '?') + (d.memory_type ? ' ' + d.memory_type : '') + '  ' +
               formatCount(d.items || 0) + ' items  ' + formatDuration(d.duration);
      default:
        return JSON.stringify(d);
    }
  }

  function offsetText(seconds) {
    if (Math.abs(seconds) < 0.0005) return '+0ms';
    return (seconds < 0 ? '-' : '+') + formatDuration(Math.abs(seconds));
  }

  function renderTree(nodes, rootStart) {
    const list = el('ul');
    for (const node of nodes) {
      const item = el('li');
      const link = el('a', node.agent_name);
      link.href = '#';
      link.dataset.id = node.id;
      link.addEventListener('click', (event) => {
        event.preventDefault();
        openTrace(node.id);
      });
      item.append(link, el('span', node.status + '  ' + formatDuration(node.duration) + '  ' +
                           costText(node.metrics) + '  ' + offsetText(node.started_at - rootStart),
                           'meta status-' + node.status));
      if (node.children && node.children.length) item.append(renderTree(node.children, rootStart));
      list.append(item);
    }
    return list;
  }

  function renderTrace(result) {
    const e = result.execution;
    setText('trace-agent', e.agent_name);
    const facts = document.getElementById('trace-facts');
    clear(facts);
    const fact = (name, value) => facts.append(el('dt', name), el('dd', value));
    fact('id', e.id);
    fact('trace', e.trace_id + (e.parent_id ? '' : ' (this execution is its root)'));
    if (e.parent_id) fact('parent', e.parent_id);
    fact('started', formatTime(e.started_at) + ' UTC');
    fact('status', e.status);
    fact('duration', formatDuration(e.duration));
    fact('models', e.models.length ? e.models.join(', ') : '-');
    fact('tokens', formatCount(e.metrics.total_tokens));
    fact('cost', costText(e.metrics));
    const error = document.getElementById('trace-error');
    error.textContent = e.error ? (e.error_type ? e.error_type + ': ' : '') + e.error : '';
    error.hidden = !e.error;

    const events = document.getElementById('trace-events');
    clear(events);
    for (const event of e.events) {
      const item = el('li');
      if (event.type === 'tool_call' && event.data && event.data.success === false) {
        item.classList.add('failed');
      }
      item.append(el('span', offsetText(event.timestamp - e.started_at), 'offset'),
                  el('span', event.type, 'type'), el('span', eventText(event), 'text'));
      events.append(item);
    }
    if (e.events.length === 0) events.append(el('li', 'No events recorded.', 'empty'));

    const children = document.getElementById('trace-children');
    clear(children);
    if (result.children.length === 0) {
      children.append(el('li', 'No child executions.', 'empty'));
    } else {
      const tree = renderTree(result.children, e.started_at);
      while (tree.firstChild) children.append(tree.firstChild);
    }
    if (result.children_truncated) {
      children.append(el('li', 'The trace is larger than shown.', 'empty'));
    }
  }

  async function openTrace(id) {
    state.traceId = id;
    const section = document.getElementById('trace');
    section.hidden = false;
    for (const row of document.querySelectorAll('#executions-table tbody tr')) {
      row.classList.toggle('selected', row.dataset.id === id);
    }
    try {
      renderTrace(await api('/api/executions/' + encodeURIComponent(id)));
      section.scrollIntoView({ block: 'nearest' });
    } catch (err) {
      const error = document.getElementById('trace-error');
      error.textContent = err.message;
      error.hidden = false;
    }
  }

  // ---- refresh loop ----

  function listParams() {
    return Object.assign({}, state.filters, { limit: state.limit, offset: state.offset });
  }

  async function refreshExecutions() {
    renderExecutions(await api('/api/executions', listParams()));
  }

  async function refresh() {
    if (state.refreshing) return;
    state.refreshing = true;
    try {
      const range = document.getElementById('timeseries-range').value;
      const [summary, series, cost, agents, executions] = await Promise.all([
        api('/api/summary'),
        api('/api/timeseries', range === 'hour' ? { bucket: 'hour', since: '24h' }
                                                : { bucket: 'day', since: '30d' }),
        api('/api/cost', { by: 'model' }),
        api('/api/agents'),
        api('/api/executions', listParams()),
      ]);
      renderSummary(summary);
      renderTimeseries(series);
      renderModelCost(cost);
      renderAgents(agents);
      renderExecutions(executions);
      showError('');
      const status = document.getElementById('status');
      status.textContent = 'Updated ' + new Date().toLocaleTimeString('en-GB') +
                           ' · every ' + REFRESH_MS / 1000 + ' s';
      status.dataset.refreshes = String(Number(status.dataset.refreshes || 0) + 1);
    } catch (err) {
      showError('Could not update: ' + err.message);
    } finally {
      state.refreshing = false;
    }
  }

  function readFilters() {
    state.filters = {
      agent: document.getElementById('filter-agent').value.trim(),
      status: document.getElementById('filter-status').value,
      since: document.getElementById('filter-since').value,
    };
    state.offset = 0;
  }

  function start() {
    if (!window.Chart) {
      showError('The charting library did not load; reload the page.');
      return;
    }
    const applyFilters = (event) => {
      if (event) event.preventDefault();
      readFilters();
      refreshExecutions().then(() => showError(''), (err) => showError(err.message));
    };
    document.getElementById('filters').addEventListener('submit', applyFilters);
    document.getElementById('filter-status').addEventListener('change', applyFilters);
    document.getElementById('filter-since').addEventListener('change', applyFilters);
    document.getElementById('filters-clear').addEventListener('click', () => {
      document.getElementById('filters').reset();
      applyFilters();
    });
    document.getElementById('page-prev').addEventListener('click', () => {
      state.offset = Math.max(0, state.offset - state.limit);
      refreshExecutions().catch((err) => showError(err.message));
    });
    document.getElementById('page-next').addEventListener('click', () => {
      state.offset += state.limit;
      refreshExecutions().catch((err) => showError(err.message));
    });
    document.getElementById('trace-close').addEventListener('click', () => {
      state.traceId = null;
      document.getElementById('trace').hidden = true;
      for (const row of document.querySelectorAll('#executions-table tr.selected')) {
        row.classList.remove('selected');
      }
    });
    document.getElementById('timeseries-range').addEventListener('change', refresh);
    refresh();
    window.setInterval(refresh, REFRESH_MS);
  }

  start();
})();
