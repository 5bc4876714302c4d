// One run: summary, input and outcome, what it waits on, its blocked report, activities
// with their attempts, timers, signals, children, updates, the history as a timeline, and
// the actions (signal, cancel, terminate), each confirmed in the page first.
'use strict';

(() => {
  const { el, api } = aion;
  const id = decodeURIComponent(location.pathname.replace(/^\/runs\//, ''));
  const base = '/api/runs/' + encodeURIComponent(id);
  const $ = (x) => document.getElementById(x);
  $('run-id').textContent = id;
  document.title = 'aion: ' + id;

  const empty = (text) => el('p', { class: 'muted', text });
  const table = (headers, rows) => el('table', {},
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { text: h })))),
    el('tbody', {}, rows));
  const short = (v) => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s.length > 120 ? s.slice(0, 117) + '…' : s;
  };

  function renderSummary(run) {
    $('run-status').replaceChildren(aion.status(run.status));
    const rows = [
      ['type', run.type], ['status', run.status], ['run id', run.run_id],
      ['created', aion.time(run.created_at)], ['updated', aion.time(run.updated_at)],
      ['events', run.head],
    ];
    if (run.owner) rows.push(['owner', run.owner]);
    const dl = $('summary');
    dl.replaceChildren();
    for (const [k, v] of rows) dl.append(el('dt', { text: k }), el('dd', { text: v }));
    if (run.parent_id) dl.append(el('dt', { text: 'parent' }), el('dd', {}, aion.runLink(run.parent_id)));
    const outcome = { completed: ['Result', run.result], failed: ['Error', run.error],
      cancelled: ['Cancelled: details', run.details], terminated: ['Terminated: reason', run.reason],
      timed_out: ['Timed out: deadline', run.deadline && aion.time(run.deadline)] }[run.status];
    $('outcome-title').textContent = outcome ? outcome[0] : 'Result';
    $('outcome').textContent = outcome ? aion.json(outcome[1]) : '(not closed yet)';
    $('actions-card').classList.toggle('hidden', !(run.status === 'running' || run.status === 'blocked'));
  }

  function renderBlocked(report) {
    $('blocked').classList.toggle('hidden', !report);
    if (!report) return;
    const body = $('blocked-body');
    body.replaceChildren();
    if (report.kind === 'non_determinism') {
      body.append(el('p', {}, 'The code diverged from the recorded history (non-determinism). ',
        'It is replayed again when fixed code is registered.'));
      const dl = el('dl', { class: 'kv' },
        el('dt', { text: 'seq' }), el('dd', { text: report.seq }),
        el('dt', { text: 'history holds' }), el('dd', { text: report.recorded }),
        el('dt', { text: 'code asked for' }), el('dd', { text: report.requested }));
      if (report.location) dl.append(el('dt', { text: 'at' }), el('dd', { text: short(report.location) }));
      body.append(dl);
    } else if (report.kind === 'crashed') {
      body.append(el('p', { text: `The workflow code raised ${report.class}:` }),
        el('pre', { text: report.reason }), el('pre', { text: (report.stacktrace || []).join('\n') }));
    } else {
      body.append(el('p', { text: `${report.kind}:` }), el('pre', { text: report.reason }));
    }
  }

  function renderWaiting(items, status) {
    const ul = $('waiting');
    ul.replaceChildren();
    if (items.length === 0) {
      ul.append(el('li', { class: 'muted', text: status === 'running' || status === 'blocked' ? 'nothing' : 'nothing: the run is closed' }));
    }
    for (const w of items) {
      let text;
      if (w.kind === 'activity') text = [`activity #${w.ordinal} `, el('b', { text: w.name }), ` (${w.state}, attempt ${w.attempt}) since ${aion.time(w.since)}`];
      else if (w.kind === 'timer') text = [`timer #${w.timer_id} `, el('b', { text: w.name }), w.scope ? ' (with_timeout deadline)' : '', ` fires at ${aion.time(w.fire_at)}`];
      else if (w.kind === 'child') text = [`child #${w.ordinal} `, aion.runLink(w.workflow_id), ` (${w.workflow_type})`];
      else if (w.kind === 'update') text = [`update `, el('b', { text: w.name }), ` (${w.update_id}) handler running`];
      else text = [w.detail || w.kind];
      ul.append(el('li', { 'data-kind': w.kind }, text));
    }
  }

  function renderActivities(acts) {
    if (acts.length === 0) return $('activities').replaceChildren(empty('none'));
    const rows = acts.map((a) => el('tr', { 'data-ordinal': a.ordinal },
      el('td', { text: a.ordinal }), el('td', { text: a.name }), el('td', {}, aion.status(a.status)),
      el('td', {}, a.attempts.length === 0 ? empty('no attempt yet') :
        el('ol', {}, a.attempts.map((t) => el('li', {},
          `#${t.attempt} ${t.outcome}`, t.duration_ms !== null ? ` in ${aion.duration(t.duration_ms)}` : '',
          t.started_at ? ` (started ${aion.time(t.started_at)})` : '',
          t.error ? el('div', { class: 'muted', text: short(t.error) }) : null)))),
      el('td', { text: aion.duration(a.duration_ms) }),
      el('td', {}, el('details', {}, el('summary', { text: 'input / result' }),
        el('pre', { text: 'input: ' + aion.json(a.input) + '\nresult: ' + aion.json(a.result) + (a.error ? '\nerror: ' + aion.json(a.error) : '') })))));
    $('activities').replaceChildren(table(['#', 'name', 'status', 'attempts', 'total', ''], rows));
  }

  function renderTimers(timers) {
    if (timers.length === 0) return $('timers').replaceChildren(empty('none'));
    $('timers').replaceChildren(table(['#', 'name', 'fires at', 'state'], timers.map((t) => el('tr', {},
      el('td', { text: t.timer_id }), el('td', { text: t.name + (t.scope ? ' (deadline)' : '') }),
      el('td', { text: aion.time(t.fire_at) }),
      el('td', { text: t.status + (t.cause ? ` (${t.cause})` : '') + (t.ended_at ? ' at ' + aion.time(t.ended_at) : '') })))));
  }

  function renderSignals(signals) {
    const parts = [];
    if (signals.received.length) parts.push(el('h3', { text: 'received' }), table(['name', 'payload', 'at'],
      signals.received.map((s) => el('tr', {}, el('td', { text: s.name }), el('td', { text: short(s.payload) }), el('td', { text: aion.time(s.received_at) })))));
    if (signals.sent.length) parts.push(el('h3', { text: 'sent' }), table(['to', 'name', 'payload', 'delivery'],
      signals.sent.map((s) => el('tr', {}, el('td', {}, aion.runLink(s.target)), el('td', { text: s.name }), el('td', { text: short(s.payload) }), el('td', { text: s.result || 'pending' })))));
    $('signals').replaceChildren(...(parts.length ? parts : [empty('none')]));
  }

  function renderChildren(children) {
    if (children.length === 0) return $('children').replaceChildren(empty('none'));
    $('children').replaceChildren(table(['#', 'workflow', 'type', 'status', 'value'], children.map((c) => el('tr', {},
      el('td', { text: c.ordinal }), el('td', { class: 'id' }, aion.runLink(c.workflow_id)), el('td', { text: c.workflow_type }),
      el('td', {}, aion.status(c.status)), el('td', { text: short(c.value) })))));
  }

  function renderUpdates(updates) {
    if (updates.length === 0) return $('updates').replaceChildren(empty('none'));
    $('updates').replaceChildren(table(['name', 'args', 'state', 'result'], updates.map((u) => el('tr', {},
      el('td', { text: u.name }), el('td', { text: short(u.args) }), el('td', { text: u.status }), el('td', { text: short(u.result) })))));
  }

  function renderHistory(events) {
    const ol = $('history');
    ol.replaceChildren();
    for (const e of events) {
      const { seq, type, recorded_at, ...fields } = e;
      const bad = type === 'ActivityFailed' || type === 'WorkflowFailed' || type === 'WorkflowTerminated' || type === 'WorkflowTimedOut';
      ol.append(el('li', { 'data-seq': seq, 'data-type': type },
        el('span', { class: 'seq', text: seq }),
        el('span', {}, el('span', { class: 'etype' + (bad ? ' bad' : ''), text: type }), el('div', { class: 'when', text: aion.time(recorded_at) })),
        el('span', {}, el('div', { text: short(fields) }),
          Object.keys(fields).length ? el('details', {}, el('summary', { text: 'fields' }), el('pre', { text: aion.json(fields) })) : null)));
    }
  }

  async function load() {
    const { status, body } = await api(base);
    if (status !== 200) {
      $('error').textContent = `${body.error}: ${body.message}`;
      $('error').classList.remove('hidden');
      $('content').classList.add('hidden');
      return null;
    }
    $('error').classList.add('hidden');
    $('content').classList.remove('hidden');
    renderSummary(body.run);
    renderBlocked(body.blocked);
    renderWaiting(body.waiting_on, body.run.status);
    $('input').textContent = aion.json(body.input);
    renderActivities(body.activities);
    renderTimers(body.timers);
    renderSignals(body.signals);
    renderChildren(body.children);
    renderUpdates(body.updates);
    renderHistory(body.history);
    document.body.dataset.loaded = 'true';
    return body.run;
  }

  // Text that parses as JSON is sent as that JSON, anything else as a string.
  const reason = (text) => {
    if (text.trim() === '') return null;
    try { return JSON.parse(text); } catch (_) { return text; }
  };

  const ask = aion.confirmer();
  const say = aion.say;

  // Sends a confirmed action, says how it went and follows the run for a while.
  async function perform(request) {
    const { status, body } = await request();
    if (status !== 200) return say(false, `${body.error}: ${body.message}`);
    say(true, `Done: the run is now ${body.run.status}.`);
    let now = await load();
    // A cancellation closes the run when its code next runs: follow it for a while.
    for (let i = 0; i < 20 && now && now.status === 'running' && body.run.status === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      now = await load();
    }
    if (now) say(true, `Done: the run is now ${now.status}.`);
  }

  $('signal').addEventListener('click', () => {
    const name = $('signal-name').value.trim();
    let payload;
    try { payload = JSON.parse($('signal-payload').value || 'null'); } catch (e) { return say(false, 'The payload is not valid JSON: ' + e.message); }
    if (!name) return say(false, 'A signal needs a name.');
    ask(`Send signal "${name}" with payload ${short(payload)} to ${id}?`,
      () => perform(() => api(base + '/signal', { method: 'POST', body: { name, payload } })));
  });
  $('cancel').addEventListener('click', () => ask(`Cancel run ${id}?`,
    () => perform(() => api(base + '/cancel', { method: 'POST', body: { reason: reason($('cancel-reason').value) } }))));
  $('terminate').addEventListener('click', () => ask(`Terminate run ${id} now? No compensation runs.`,
    () => perform(() => api(base + '/terminate', { method: 'POST', body: { reason: reason($('terminate-reason').value) } }))));

  load();
})();
