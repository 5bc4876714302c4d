// Shared helpers of the dashboard pages (no framework, no build step).
'use strict';

const aion = {
  STATUSES: ['running', 'blocked', 'completed', 'failed', 'cancelled', 'terminated', 'timed_out'],

  // GET or POST against the JSON API; resolves to {status, body}.
  async api(path, options = {}) {
    const init = { method: options.method || 'GET', headers: {}, credentials: 'same-origin' };
    if (options.body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    const res = await fetch(path, init);
    let body = null;
    try { body = await res.json(); } catch (_) { body = { error: 'bad_answer', message: res.statusText }; }
    return { status: res.status, body };
  },

  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  },

  status(s) { return aion.el('span', { class: 'status ' + s, 'data-status': s, text: s }); },

  time(ms) {
    if (ms === null || ms === undefined) return '';
    const d = new Date(ms);
    const pad = (n, w = 2) => String(n).padStart(w, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  },

  duration(ms) {
    if (ms === null || ms === undefined) return '';
    if (ms < 1000) return ms + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
    if (ms < 3600000) return Math.floor(ms / 60000) + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
    return (ms / 3600000).toFixed(1) + ' h';
  },

  json(v) { return JSON.stringify(v, null, 2); },

  runLink(id) { return aion.el('a', { href: '/runs/' + encodeURIComponent(id), text: id }); },

  // Wires the page's confirmation box (#confirm, #confirm-text, #confirm-yes, #confirm-no)
  // and returns ask(text, then): it shows `text`, and `then` runs only on yes.
  confirmer() {
    const $ = (x) => document.getElementById(x);
    let pending = null;
    const close = () => {
      const then = pending;
      pending = null;
      $('confirm').classList.add('hidden');
      return then;
    };
    $('confirm-no').addEventListener('click', close);
    $('confirm-yes').addEventListener('click', () => {
      const then = close();
      if (then) then();
    });
    return (text, then) => {
      pending = then;
      $('confirm-text').textContent = text;
      $('confirm').classList.remove('hidden');
      $('confirm-yes').focus();
    };
  },

  // Shows how an action went in #action-result (text and nodes).
  say(ok, ...content) {
    const m = document.getElementById('action-result');
    m.replaceChildren(...content.flat());
    m.className = 'message ' + (ok ? 'ok' : 'err');
  },
};
