// The runs page: counts by status, filters (status, type, id search), newest first,
// pages through the API's cursor. The filters live in the address (?status=...), so a
// filtered view can be bookmarked; the cursors of the pages seen are kept for "Previous".
'use strict';

(() => {
  const { el, api } = aion;
  const form = document.getElementById('filters');
  const statusSelect = document.getElementById('f-status');
  for (const s of aion.STATUSES) statusSelect.append(el('option', { value: s, text: s }));

  let cursors = [null];   // cursor of each page seen; the last is the current page's
  let next = null;

  function filters() {
    const p = new URLSearchParams(location.search);
    return {
      status: p.get('status') || '', type: p.get('type') || '', q: p.get('q') || '',
      order: p.get('order') || 'newest_first', limit: p.get('limit') || '50',
    };
  }

  function showFilters(f) {
    statusSelect.value = f.status;
    document.getElementById('f-type').value = f.type;
    document.getElementById('f-q').value = f.q;
    document.getElementById('f-order').value = f.order;
    document.getElementById('f-limit').value = f.limit;
  }

  function navigate(f) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
    history.pushState(null, '', '/?' + p.toString());
    cursors = [null];
    load();
  }

  function renderCounts(counts, active) {
    const box = document.getElementById('counts');
    box.replaceChildren();
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const button = (status, label, n) => el('button', {
      type: 'button', class: 'count' + (active === status ? ' active' : ''), 'data-count': status || 'all',
      onclick: () => navigate({ ...filters(), status }),
    }, el('b', { text: n }), label);
    box.append(button('', 'all', total));
    const shown = aion.STATUSES.concat(Object.keys(counts).filter((s) => !aion.STATUSES.includes(s)));
    for (const s of shown) box.append(button(s, s.replace(/_/g, ' '), counts[s] || 0));
  }

  function renderRuns(runs) {
    const body = document.querySelector('#runs tbody');
    body.replaceChildren();
    for (const r of runs) {
      body.append(el('tr', { 'data-id': r.workflow_id },
        el('td', { class: 'id' }, aion.runLink(r.workflow_id),
           r.parent_id ? el('div', { class: 'muted' }, 'child of ', aion.runLink(r.parent_id)) : null),
        el('td', { text: r.type }),
        el('td', {}, aion.status(r.status)),
        el('td', { text: aion.time(r.created_at) }),
        el('td', { text: aion.time(r.updated_at) }),
        el('td', { text: r.head })));
    }
    document.getElementById('empty').classList.toggle('hidden', runs.length > 0);
  }

  async function load() {
    const f = filters();
    showFilters(f);
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
    const cursor = cursors[cursors.length - 1];
    if (cursor) p.set('cursor', cursor);
    const { status, body } = await api('/api/runs?' + p.toString());
    const error = document.getElementById('error');
    if (status !== 200) {
      error.textContent = `${body.error}: ${body.message}`;
      error.classList.remove('hidden');
      return;
    }
    error.classList.add('hidden');
    renderCounts(body.counts, f.status);
    renderRuns(body.runs);
    next = body.next;
    document.getElementById('next').disabled = !next;
    document.getElementById('prev').disabled = cursors.length < 2;
    document.getElementById('first').disabled = cursors.length < 2;
    document.getElementById('pageinfo').textContent =
      `page ${cursors.length} · ${body.runs.length} run${body.runs.length === 1 ? '' : 's'}`;
    document.body.dataset.loaded = 'true';
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    navigate(Object.fromEntries(data.entries()));
  });
  document.getElementById('f-reset').addEventListener('click', () => navigate({}));
  document.getElementById('next').addEventListener('click', () => { if (next) { cursors.push(next); load(); } });
  document.getElementById('prev').addEventListener('click', () => { cursors.pop(); load(); });
  document.getElementById('first').addEventListener('click', () => { cursors = [null]; load(); });
  window.addEventListener('popstate', () => { cursors = [null]; load(); });
  load();
})();
