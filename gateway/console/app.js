// Tessera lobby console. Plain JavaScript, no dependencies, served from the gateway binary.
//
// Signs in with a bearer token (kept in sessionStorage), lists live meetings, and follows one
// meeting live through GET /api/v1/meetings/{tenant}/{conference}/events, read with fetch()
// because EventSource cannot send an Authorization header. Data from the API only ever reaches
// the page through textContent and attributes, never as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'tessera.console.token';
  const MEETINGS_REFRESH_MS = 5000;
  const RECONNECT_MIN_MS = 1000;
  const RECONNECT_MAX_MS = 15000;

  const CLASS_LABELS = {
    organizer: 'organizer',
    'same-org': 'same org',
    guest: 'guest',
    'trusted-org': 'trusted org',
    'untrusted-org': 'untrusted org',
    'trusted-vtc': 'trusted VTC',
    'untrusted-vtc': 'untrusted VTC',
    anonymous: 'anonymous',
    pstn: 'phone',
  };
  const TRUSTED = new Set(['organizer', 'same-org', 'guest', 'trusted-org', 'trusted-vtc']);

  const $ = (id) => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    meeting: null, // { tenant, conference }
    stream: null, // AbortController of the running event stream
    meetingsTimer: null,
    meetings: [],
  };

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  function authHeaders(accept) {
    return { Authorization: 'Bearer ' + state.token, Accept: accept };
  }

  async function errorMessage(res) {
    try {
      const body = await res.json();
      if (body && typeof body.error === 'string') return body.error;
    } catch (_) {
      // Not JSON: fall back to the status text.
    }
    return res.status + ' ' + res.statusText;
  }

  async function api(method, path) {
    const res = await fetch(path, {
      method,
      headers: authHeaders('application/json'),
      cache: 'no-store',
    });
    if (res.status === 401) {
      signOut('The token was not accepted. Sign in again.');
      throw new ApiError(401, 'unauthorized');
    }
    if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
    if (res.status === 204) return null;
    return res.json();
  }

  function meetingPath(m) {
    return '/api/v1/meetings/' + encodeURIComponent(m.tenant) + '/' + encodeURIComponent(m.conference);
  }

  // ---- small DOM helpers ----------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function setError(node, message) {
    node.textContent = message || '';
    show(node, Boolean(message));
  }

  function initials(name) {
    const words = String(name).trim().split(/\s+/).filter(Boolean);
    const letters = words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] || '?').slice(0, 2);
    return letters.toUpperCase();
  }

  function since(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return '';
    const s = Math.max(0, Math.floor((Date.now() - t) / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, '0');
    return h > 0 ? h + ':' + String(m).padStart(2, '0') + ':' + sec : m + ':' + sec;
  }

  function clock(date) {
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  // Updates the "waiting 1:23" / "in 4:56" timers once a second without re-rendering rows.
  function tickTimers() {
    for (const node of document.querySelectorAll('[data-since]')) {
      node.textContent = node.dataset.prefix + ' ' + since(node.dataset.since);
    }
  }

  // Keeps `ul`'s children in the order of `items`, one <li data-id> per item, reusing rows that
  // already exist so a button under the pointer survives a live update.
  function reconcile(ul, items, build, update) {
    const existing = new Map();
    for (const li of ul.children) existing.set(li.dataset.id, li);
    let prev = null;
    for (const item of items) {
      let li = existing.get(item.id);
      if (li) existing.delete(item.id);
      else li = build(item);
      update(li, item);
      const wanted = prev ? prev.nextSibling : ul.firstChild;
      if (wanted !== li) ul.insertBefore(li, wanted);
      prev = li;
    }
    for (const li of existing.values()) li.remove();
  }

  // ---- sign in / out ------------------------------------------------------------------------

  function setLive(status, label) {
    const node = $('live-state');
    node.dataset.state = status;
    node.textContent = label || status;
  }

  function showSignIn(message) {
    show($('console-view'), false);
    show($('session'), false);
    show($('signin-view'), true);
    setError($('signin-error'), message);
    $('token').value = '';
    $('token').focus();
  }

  function signOut(message) {
    stopStream();
    clearInterval(state.meetingsTimer);
    state.meetingsTimer = null;
    state.token = null;
    state.meeting = null;
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(message);
  }

  async function signIn(token) {
    state.token = token;
    try {
      await loadMeetings();
    } catch (e) {
      // 401 already signed out; a tenant token may not list every meeting (403): still usable
      // through "Open by ID".
      if (e.status === 401) return;
      if (e.status !== 403 && e.status !== 404) {
        state.token = null;
        setError($('signin-error'), 'Cannot reach the gateway: ' + e.message);
        return;
      }
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    showConsole();
  }

  function showConsole() {
    show($('signin-view'), false);
    show($('console-view'), true);
    show($('session'), true);
    setLive('idle');
    clearInterval(state.meetingsTimer);
    state.meetingsTimer = setInterval(() => loadMeetings().catch(() => {}), MEETINGS_REFRESH_MS);
    const fromHash = parseHash();
    if (fromHash) openMeeting(fromHash.tenant, fromHash.conference);
  }

  // ---- meeting list -------------------------------------------------------------------------

  async function loadMeetings() {
    const list = await api('GET', '/api/v1/meetings');
    state.meetings = Array.isArray(list) ? list : [];
    renderMeetings();
  }

  function meetingKey(tenant, conference) {
    return tenant + '/' + conference;
  }

  function renderMeetings() {
    const ul = $('meeting-list');
    const items = state.meetings.map((m) => ({ ...m, id: meetingKey(m.tenant, m.conference_id) }));
    reconcile(
      ul,
      items,
      (m) => {
        const li = el('li');
        li.dataset.id = m.id;
        const button = el('button', 'meeting-item');
        button.type = 'button';
        button.dataset.tenant = m.tenant;
        button.dataset.conference = m.conference_id;
        const title = el('span', 'meeting-id');
        title.append(el('span', 'conf'), el('span', 'tenant'));
        const counts = el('span', 'counts');
        counts.append(el('span', 'badge in'), el('span', 'badge waiting'));
        button.append(title, counts);
        li.append(button);
        return li;
      },
      (li, m) => {
        li.querySelector('.conf').textContent = m.conference_id;
        li.querySelector('.tenant').textContent = 'tenant ' + m.tenant;
        li.querySelector('.badge.in').textContent = m.participants + ' in';
        const waiting = li.querySelector('.badge.waiting');
        waiting.textContent = m.lobby + ' waiting';
        waiting.classList.toggle('hot', m.lobby > 0);
        const selected = state.meeting && meetingKey(state.meeting.tenant, state.meeting.conference) === m.id;
        if (selected) li.firstChild.setAttribute('aria-current', 'true');
        else li.firstChild.removeAttribute('aria-current');
      },
    );
    show($('meetings-empty'), items.length === 0);
  }

  // ---- one meeting --------------------------------------------------------------------------

  function parseHash() {
    const parts = location.hash.replace(/^#\/?/, '').split('/');
    if (parts.length !== 2 || !parts[0] || !parts[1]) return null;
    return { tenant: decodeURIComponent(parts[0]), conference: decodeURIComponent(parts[1]) };
  }

  function openMeeting(tenant, conference) {
    stopStream();
    state.meeting = { tenant, conference };
    const hash = '#/' + encodeURIComponent(tenant) + '/' + encodeURIComponent(conference);
    if (location.hash !== hash) history.replaceState(null, '', hash);
    show($('meeting-placeholder'), false);
    show($('meeting-detail'), true);
    $('meeting-title').textContent = 'Meeting ' + conference + ' · tenant ' + tenant;
    $('meeting-updated').textContent = '';
    setError($('meeting-error'), '');
    $('lobby-list').replaceChildren();
    $('participant-list').replaceChildren();
    renderMeetings();
    const ctrl = new AbortController();
    state.stream = ctrl;
    followMeeting(state.meeting, ctrl);
  }

  function stopStream() {
    if (state.stream) state.stream.abort();
    state.stream = null;
  }

  function renderView(view) {
    const m = state.meeting;
    if (!m || view.tenant !== m.tenant || view.conference_id !== m.conference) return;
    $('meeting-updated').textContent = 'updated ' + clock(new Date());

    reconcile($('lobby-list'), view.lobby, (p) => buildPerson(p, [
      ['admit', 'Admit', 'primary small'],
      ['deny', 'Deny', 'danger small'],
    ]), (li, p) => updatePerson(li, p, p.waiting_since, 'waiting', p.protocol));
    $('lobby-count').textContent = String(view.lobby.length);
    show($('lobby-empty'), view.lobby.length === 0);

    reconcile($('participant-list'), view.participants, (p) => buildPerson(p, [
      ['remove', 'Remove', 'danger ghost small'],
    ]), (li, p) => updatePerson(li, p, p.joined_at, 'in for', p.protocol));
    $('participants-count').textContent = String(view.participants.length);
    show($('participants-empty'), view.participants.length === 0);
  }

  function buildPerson(p, actions) {
    const li = el('li', 'person');
    li.dataset.id = p.id;
    const who = el('div', 'who');
    who.append(el('span', 'name'), el('span', 'meta'));
    const buttons = el('div', 'actions');
    for (const [action, label, className] of actions) {
      const button = el('button', className, label);
      button.type = 'button';
      button.dataset.action = action;
      buttons.append(button);
    }
    li.append(el('div', 'avatar'), who, buttons);
    return li;
  }

  function updatePerson(li, p, sinceIso, prefix, protocol) {
    li.querySelector('.avatar').textContent = initials(p.display_name);
    li.querySelector('.avatar').classList.toggle('trusted', TRUSTED.has(p.class));
    li.querySelector('.name').textContent = p.display_name;
    const meta = li.querySelector('.meta');
    const parts = [CLASS_LABELS[p.class] || String(p.class)];
    if (protocol) parts.push(protocol === 'sip' ? 'SIP' : protocol);
    parts.push(p.id);
    const timer = el('span', 'since');
    timer.dataset.since = sinceIso;
    timer.dataset.prefix = prefix;
    timer.textContent = prefix + ' ' + since(sinceIso);
    meta.replaceChildren(el('span', 'tag', parts.join(' · ')), timer);
  }

  async function act(action, id, button) {
    const m = state.meeting;
    if (!m) return;
    const path = action === 'remove'
      ? meetingPath(m) + '/participants/' + encodeURIComponent(id)
      : meetingPath(m) + '/lobby/' + encodeURIComponent(id) + '/' + action;
    const row = button.closest('li');
    for (const b of row.querySelectorAll('button')) b.disabled = true;
    row.classList.add('pending');
    setError($('meeting-error'), '');
    try {
      await api(action === 'remove' ? 'DELETE' : 'POST', path);
      // The event stream brings the new state; read it once now so the click feels immediate.
      const view = await api('GET', meetingPath(m));
      renderView(view);
      loadMeetings().catch(() => {});
    } catch (e) {
      if (e.status !== 401) setError($('meeting-error'), 'Could not ' + action + ' ' + id + ': ' + e.message);
      for (const b of row.querySelectorAll('button')) b.disabled = false;
      row.classList.remove('pending');
    }
  }

  // ---- the event stream ---------------------------------------------------------------------

  function wait(ms, signal) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }

  // Reads a text/event-stream body and calls onEvent(name, data) per event.
  async function readEvents(body, onEvent) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue; // comment (keep-alive)
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let text = colon < 0 ? '' : line.slice(colon + 1);
          if (text.startsWith(' ')) text = text.slice(1);
          if (field === 'event') name = text;
          else if (field === 'data') data.push(text);
        }
        if (data.length) onEvent(name, data.join('\n'));
      }
    }
  }

  async function followMeeting(m, ctrl) {
    let backoff = RECONNECT_MIN_MS;
    while (!ctrl.signal.aborted) {
      let gone = false;
      try {
        setLive('connecting', 'connecting…');
        const res = await fetch(meetingPath(m) + '/events', {
          headers: authHeaders('text/event-stream'),
          cache: 'no-store',
          signal: ctrl.signal,
        });
        if (res.status === 401) {
          signOut('The token was not accepted. Sign in again.');
          return;
        }
        if (!res.ok) {
          gone = res.status === 404 || res.status === 400 || res.status === 403;
          throw new ApiError(res.status, await errorMessage(res));
        }
        setLive('live', 'live');
        setError($('meeting-error'), '');
        backoff = RECONNECT_MIN_MS;
        await readEvents(res.body, (name, data) => {
          const payload = JSON.parse(data);
          if (name === 'meeting') renderView(payload);
          else if (name === 'error') setError($('meeting-error'), payload.error);
        });
      } catch (e) {
        if (ctrl.signal.aborted) return;
        setError($('meeting-error'), e.message || String(e));
      }
      if (gone) {
        setLive('idle', 'not live');
        return;
      }
      setLive('reconnecting', 'reconnecting…');
      await wait(backoff, ctrl.signal);
      backoff = Math.min(backoff * 2, RECONNECT_MAX_MS);
    }
  }

  // ---- wiring -------------------------------------------------------------------------------

  function init() {
    $('signin-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const token = $('token').value.trim();
      if (token) signIn(token);
    });
    $('sign-out').addEventListener('click', () => signOut(''));
    $('refresh-meetings').addEventListener('click', () => loadMeetings().catch(() => {}));
    $('meeting-list').addEventListener('click', (e) => {
      const button = e.target.closest('button.meeting-item');
      if (button) openMeeting(button.dataset.tenant, button.dataset.conference);
    });
    $('open-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const tenant = $('open-tenant').value.trim();
      const conference = $('open-conference').value.trim();
      if (tenant && conference) openMeeting(tenant, conference);
    });
    for (const id of ['lobby-list', 'participant-list']) {
      $(id).addEventListener('click', (e) => {
        const button = e.target.closest('button[data-action]');
        if (!button || button.disabled) return;
        act(button.dataset.action, button.closest('li').dataset.id, button);
      });
    }
    setInterval(tickTimers, 1000);
    if (state.token) signIn(state.token);
    else showSignIn('');
  }

  init();
})();
