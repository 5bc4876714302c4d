// The schedules page: every schedule (GET /api/schedules) with when it fires, its overlap
// policy, whether it is paused, its next run, its counts and the workflow it started last;
// per row Pause/Unpause, Trigger and Delete (Trigger and Delete are confirmed in the page
// first). Every text goes in through textContent or an attribute (aion.el), never as HTML.
'use strict';

(() => {
  const { el, api } = aion;
  const $ = (x) => document.getElementById(x);
  const base = (id) => '/api/schedules/' + encodeURIComponent(id);

  function when(s) {
    if (s.cron !== undefined) {
      const offset = !s.utc_offset || s.utc_offset === 'Z' ? 'UTC' : 'UTC' + s.utc_offset;
      return el('span', { title: 'cron, at ' + offset }, el('code', { text: s.cron }), ` (${offset})`);
    }
    if (s.every_ms !== undefined) return el('span', { title: aion.duration(s.every_ms) }, `every ${s.every_ms} ms`);
    return '';
  }

  function counts(s) {
    const c = s.counts || {};
    const all = Object.entries(c).map(([k, v]) => `${k.replace(/_/g, ' ')}: ${v}`).join(', ');
    return el('td', { class: 'counts-cell', title: all, 'data-started': c.started || 0 },
      `${c.started || 0} / ${c.missed || 0} / ${c.skipped_overlap || 0}`);
  }

  function button(label, action, s, extra = {}) {
    return el('button', { type: 'button', 'data-action': action, ...extra,
      onclick: () => act(action, s) }, label);
  }

  function render(schedules) {
    const body = document.querySelector('#schedules tbody');
    body.replaceChildren();
    for (const s of schedules) {
      const next = (s.next_runs || [])[0];
      body.append(el('tr', { 'data-id': s.id, 'data-paused': String(!!s.paused) },
        el('td', { class: 'id' }, el('b', { text: s.id }),
          el('div', {}, el('a', { class: 'muted', href: '/runs/' + encodeURIComponent('aion.schedule/' + s.id),
            text: 'its workflow' }))),
        el('td', { text: s.workflow }),
        el('td', {}, when(s)),
        el('td', { text: (s.overlap || '').replace(/_/g, ' ') }),
        el('td', {}, el('span', { class: 'status ' + (s.paused ? 'paused' : 'active'), 'data-state': s.paused ? 'paused' : 'active',
          text: s.paused ? 'paused' : 'active' })),
        el('td', { title: (s.next_runs || []).map(aion.time).join('\n') },
          next === undefined ? el('span', { class: 'muted', text: 'none' }) : aion.time(next),
          s.paused && next !== undefined ? el('div', { class: 'muted', text: 'passes while paused' }) : null),
        counts(s),
        el('td', { class: 'id last' }, s.running ? aion.runLink(s.running) : el('span', { class: 'muted', text: 'none yet' }),
          s.buffered !== null && s.buffered !== undefined
            ? el('div', { class: 'muted', text: 'a slot waits: ' + aion.time(s.buffered) }) : null),
        el('td', { class: 'buttons' },
          s.paused ? button('Unpause', 'unpause', s) : button('Pause', 'pause', s),
          button('Trigger…', 'trigger', s),
          button('Delete…', 'delete', s, { class: 'danger' }))));
    }
    $('empty').classList.toggle('hidden', schedules.length > 0);
    $('info').textContent = `${schedules.length} schedule${schedules.length === 1 ? '' : 's'} · as of ${aion.time(Date.now())}`;
  }

  async function load() {
    const { status, body } = await api('/api/schedules');
    const error = $('error');
    if (status !== 200) {
      error.textContent = `${body.error}: ${body.message}`;
      error.classList.remove('hidden');
      return;
    }
    error.classList.add('hidden');
    render(body.schedules);
    document.body.dataset.loaded = 'true';
  }

  const ask = aion.confirmer();
  const say = aion.say;

  async function post(action, s) {
    for (const b of document.querySelectorAll('#schedules button')) b.disabled = true;
    try {
      const { status, body } = await api(base(s.id) + '/' + action, { method: 'POST', body: {} });
      if (status !== 200) {
        say(false, `${action} ${s.id}: ${body.error}: ${body.message}`);
      } else if (action === 'trigger') {
        say(true, `Triggered ${s.id}: ${body.outcome}`,
          body.workflow_id ? [' — ', aion.runLink(body.workflow_id)] : '');
      } else {
        say(true, `Schedule ${s.id} ${{ pause: 'paused', unpause: 'unpaused', delete: 'deleted' }[action]}.`);
      }
    } finally {
      await load();
    }
  }

  function act(action, s) {
    if (action === 'delete') {
      ask(`Delete schedule ${s.id}? No slot starts anything any more; the workflows it started go on.`,
        () => post('delete', s));
    } else if (action === 'trigger') {
      ask(`Start ${s.id}'s workflow ${s.workflow} now (under its overlap policy, ${s.overlap})?`,
        () => post('trigger', s));
    } else {
      post(action, s);
    }
  }

  $('refresh').addEventListener('click', load);
  load();
})();
