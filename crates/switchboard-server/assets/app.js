// switchboard dashboard: plain JavaScript, no build step, served from the binary.
//
// How it stays exact: it opens the live feed (/api/events) first, waits for `hello`,
// then loads the snapshots (/api/agents, /api/queues...). Every feed frame carries an id
// (the hub's seq) and every snapshot the seq it includes, so frames with an id at or
// below the snapshot's are skipped and none is missed. `resync` (this client fell
// behind) and reconnects load the snapshots again.
//
// Time-in-state ticks on the contact center's clock: the server sends it with its rate
// (the demo runs faster than real time) every second, and the page interpolates.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  const STATE_LABELS = {
    offline: 'Offline', available: 'Available', on_contact: 'On contact', on_hold: 'On hold',
    after_contact_work: 'After-contact work', missed: 'Missed',
  };
  const CONTACT_STATES = {
    INCOMING: 'Incoming', PENDING: 'Pending', CONNECTING: 'Connecting', CONNECTED: 'Connected',
    CONNECTED_ONHOLD: 'On hold', ENDED: 'ACW', MISSED: 'Missed', REJECTED: 'Rejected', ERROR: 'Error',
  };
  const ALERT_LABELS = {
    long_hold: 'Long hold', long_acw: 'Long after-contact work', long_status: 'Long status',
    long_queue_wait: 'Long queue wait',
  };
  const SOURCE_LABELS = { contact_event: 'contact event', agent_event: 'agent event', contact_record: 'record' };
  const INTERVAL_MS = 15 * 60 * 1000;
  const HISTORY_MS = 10 * 3600 * 1000;
  const MIN_SPAN_MS = 2 * 3600 * 1000;

  const S = {
    agents: new Map(),      // arn -> AgentView
    queues: new Map(),      // name -> QueueView
    alerts: new Map(),      // id -> Alert
    contacts: new Map(),    // id -> ContactSummary (most recent updates)
    cells: new Map(),       // "start|kind|id" -> metric cell
    seq: 0,
    loaded: false,
    loading: null,
    buffer: [],
    clock: { now: null, at: 0, rate: 1 },
    dirtyAgents: new Set(),
    seatsDirty: true,
    chartsDirty: true,
    openContact: null,
    updates: 0,
    filters: { queue: '', profile: '', group: '', search: '', hideOffline: true },
    known: { queues: new Set(), profiles: new Set(), groups: new Set() },
  };

  // ---------- small helpers ----------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const ICONS = {
    VOICE: 'M6.6 10.8a15 15 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z',
    CHAT: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z',
    TASK: 'M9 11l3 3 8-8M4 12v7a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-7',
  };
  function icon(channel) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '12');
    svg.setAttribute('height', '12');
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', ICONS[channel] || ICONS.TASK);
    const filled = channel === 'VOICE' || channel === 'CHAT';
    path.setAttribute('fill', filled ? 'currentColor' : 'none');
    if (!filled) { path.setAttribute('stroke', 'currentColor'); path.setAttribute('stroke-width', '2'); }
    svg.append(path);
    return svg;
  }

  const ms = (t) => (t ? Date.parse(t) : null);
  function nowMs() {
    const c = S.clock;
    if (c.now === null) return Date.now();
    return c.now + (performance.now() - c.at) * c.rate;
  }
  function dur(msec) {
    if (msec === null || msec === undefined || !isFinite(msec)) return '–';
    const s = Math.max(0, Math.floor(msec / 1000));
    const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    const p = (n) => String(n).padStart(2, '0');
    return hh > 0 ? `${hh}:${p(mm)}:${p(ss)}` : `${mm}:${p(ss)}`;
  }
  function clockTime(t, withMs) {
    if (t === null || t === undefined) return '–';
    const d = new Date(typeof t === 'number' ? t : ms(t));
    const base = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    return withMs ? `${base}.${String(d.getMilliseconds()).padStart(3, '0')}` : base;
  }
  const stateLabel = (a) => STATE_LABELS[a.state] || a.state;
  const agentName = (a) => a.name || a.username || a.agent_arn.split('/').pop();
  const short = (id) => (id && id.length > 13 ? id.slice(0, 8) + '…' : id || '–');
  function agentByArn(arn) { return arn ? S.agents.get(arn) : null; }
  function usernameOf(arn) {
    const a = agentByArn(arn);
    return a ? a.username || agentName(a) : arn ? arn.split('/').pop() : null;
  }

  async function getJSON(url) {
    const r = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!r.ok) {
      let msg = `${r.status}`;
      try { msg = (await r.json()).error || msg; } catch (_) { /* not JSON */ }
      throw new Error(`${url}: ${msg}`);
    }
    return r.json();
  }

  // ---------- feed ----------

  function setConn(kind, text) {
    const el = $('conn');
    el.className = `pill pill-${kind}`;
    el.textContent = text;
  }

  function setClock(data) {
    if (data.now) S.clock = { now: ms(data.now), at: performance.now(), rate: data.rate || 1 };
  }

  function connect() {
    const es = new EventSource('/api/events');
    es.addEventListener('hello', (e) => {
      setClock(JSON.parse(e.data));
      load();
    });
    es.addEventListener('clock', (e) => setClock(JSON.parse(e.data)));
    es.addEventListener('resync', () => load());
    for (const type of ['agent', 'queue', 'transition', 'contact', 'alert', 'metric']) {
      es.addEventListener(type, (e) => onFrame(type, e));
    }
    es.onopen = () => setConn('wait', 'Loading…');
    es.onerror = () => { S.loaded = false; setConn('down', 'Reconnecting…'); };
  }

  function onFrame(type, e) {
    const id = Number(e.lastEventId || 0);
    const msg = { type, id, data: JSON.parse(e.data) };
    S.updates++;
    if (!S.loaded) {
      S.buffer.push(msg);
      // Loading keeps failing: the oldest frames are the ones the next snapshot covers.
      if (S.buffer.length > 50000) S.buffer.splice(0, 10000);
      return;
    }
    if (id > S.seq) apply(msg);
  }

  function apply({ type, data }) {
    switch (type) {
      case 'agent':
        S.agents.set(data.agent_arn, data);
        S.dirtyAgents.add(data.agent_arn);
        learn(data);
        break;
      case 'queue':
        S.queues.set(data.name, data);
        S.queuesDirty = true;
        break;
      case 'contact':
        S.contacts.delete(data.contact_id);
        S.contacts.set(data.contact_id, data);
        while (S.contacts.size > 40) S.contacts.delete(S.contacts.keys().next().value);
        S.contactsDirty = true;
        if (S.openContact === data.contact_id) refreshDrawerSoon();
        break;
      case 'alert':
        if (data.event === 'raised') S.alerts.set(data.alert.id, data.alert);
        else S.alerts.delete(data.alert.id);
        S.alertsDirty = true;
        break;
      case 'metric':
        addCell(data.start, data.kind, data.id, data.delta, 1);
        S.chartsDirty = true;
        break;
      default:
        break;
    }
  }

  async function load() {
    if (S.loading) return S.loading;
    S.loaded = false;
    S.loading = (async () => {
      try {
        const [agents, queues, alerts, contacts] = await Promise.all([
          getJSON('/api/agents'),
          getJSON('/api/queues'),
          getJSON('/api/alerts?active=true'),
          getJSON('/api/contacts?limit=30').catch(() => ({ contacts: [] })),
        ]);
        // Both live snapshots are taken under the engine lock; keep the older seq so that
        // no frame newer than either is skipped (re-applying a full state is harmless).
        S.seq = Math.min(agents.seq, queues.seq);
        S.agents = new Map(agents.agents.map((a) => [a.agent_arn, a]));
        S.agents.forEach(learn);
        S.queues = new Map(queues.queues.map((q) => [q.name, q]));
        S.alerts = new Map(alerts.alerts.map((a) => [a.id, a]));
        S.contacts = new Map(contacts.contacts.slice().reverse().map((c) => [c.contact_id, c]));
        S.loaded = true;
        const pending = S.buffer;
        S.buffer = [];
        for (const m of pending) if (m.id > S.seq) apply(m);
        S.seatsDirty = S.queuesDirty = S.alertsDirty = S.contactsDirty = true;
        setConn('live', 'Live');
        document.body.dataset.ready = '1';
        loadMetrics();
      } catch (err) {
        console.error(err);
        setConn('down', 'Error loading');
        setTimeout(() => { S.loading = null; load(); }, 2000);
        return;
      }
      S.loading = null;
    })();
    return S.loading;
  }

  // ---------- filters ----------

  function learn(a) {
    let changed = false;
    for (const q of a.queues) if (!S.known.queues.has(q)) { S.known.queues.add(q); changed = true; }
    if (a.routing_profile && !S.known.profiles.has(a.routing_profile)) { S.known.profiles.add(a.routing_profile); changed = true; }
    for (const g of a.hierarchy) if (!S.known.groups.has(g)) { S.known.groups.add(g); changed = true; }
    if (changed) S.filtersDirty = true;
  }

  function fillSelect(select, values, allLabel) {
    const current = select.value;
    select.replaceChildren(h('option', { value: '' }, allLabel),
      ...[...values].sort().map((v) => h('option', { value: v }, v)));
    select.value = values.has(current) ? current : '';
  }

  function visible(a) {
    const f = S.filters;
    if (f.hideOffline && a.state_kind === 'offline') return false;
    if (f.queue && !a.queues.includes(f.queue)) return false;
    if (f.profile && a.routing_profile !== f.profile) return false;
    if (f.group && !a.hierarchy.includes(f.group)) return false;
    if (f.search) {
      const hay = `${a.name || ''} ${a.username || ''}`.toLowerCase();
      if (!hay.includes(f.search)) return false;
    }
    return true;
  }

  function bindFilters() {
    const on = (id, key, read) => $(id).addEventListener('input', (e) => {
      S.filters[key] = read(e.target);
      S.seatsDirty = S.queuesDirty = S.chartsDirty = true;
    });
    on('f-queue', 'queue', (t) => t.value);
    on('f-profile', 'profile', (t) => t.value);
    on('f-group', 'group', (t) => t.value);
    on('f-search', 'search', (t) => t.value.trim().toLowerCase());
    on('f-offline', 'hideOffline', (t) => t.checked);
  }

  // ---------- seat map ----------

  const tiles = new Map(); // arn -> element

  function tileFor(a) {
    let el = tiles.get(a.agent_arn);
    if (!el) {
      el = h('div', { class: 'tile', dataset: { arn: a.agent_arn, testid: 'tile' } });
      el.addEventListener('click', (e) => {
        const chip = e.target.closest('[data-contact]');
        const agent = S.agents.get(el.dataset.arn);
        const id = chip ? chip.dataset.contact : agent && agent.contacts[0] && agent.contacts[0].contact_id;
        if (id) openContact(id);
      });
      tiles.set(a.agent_arn, el);
      el._state = null;
    }
    return el;
  }

  function drawTile(el, a) {
    const changed = el._state !== null && el._state !== a.state;
    el._state = a.state;
    el.className = `tile s-${a.state_kind}${a.contacts.length ? ' clickable' : ''}`;
    el.dataset.state = a.state;
    el.dataset.since = a.since;
    const sub = [a.username, a.routing_profile].filter(Boolean).join(' · ');
    const chips = a.contacts.map((c) => h('button', {
      class: 'chip', dataset: { contact: c.contact_id }, title: `${c.contact_id} · ${c.state}`,
    }, icon(c.channel), `${c.queue || c.channel || 'Contact'} · ${CONTACT_STATES[c.state] || c.state}`));
    el.replaceChildren(...[
      h('div', { class: 'tile-top' },
        h('span', { class: 'tile-name', title: a.name || '' }, agentName(a)),
        h('span', { class: 'tile-time', dataset: { tick: a.since } }, dur(nowMs() - ms(a.since)))),
      h('div', { class: 'tile-sub' }, sub || '\u00a0'),
      h('div', { class: 'tile-state' }, h('span', { class: 'dot' }), stateLabel(a)),
      chips.length ? h('div', { class: 'tile-contacts' }, chips) : null,
    ].filter(Boolean));
    if (changed) {
      el.classList.remove('flash');
      void el.offsetWidth; // restart the animation
      el.classList.add('flash');
    }
  }

  function drawSeats() {
    const map = $('seatmap');
    if (S.seatsDirty) {
      const list = [...S.agents.values()].filter(visible)
        .sort((x, y) => agentName(x).localeCompare(agentName(y)) || x.agent_arn.localeCompare(y.agent_arn));
      const els = list.map((a) => {
        const el = tileFor(a);
        if (el._state === null || S.dirtyAgents.has(a.agent_arn) || el.dataset.since !== a.since) drawTile(el, a);
        return el;
      });
      if (els.length === 0) {
        map.replaceChildren(h('div', { class: 'empty' }, S.agents.size ? 'No agent matches the filters.' : 'Waiting for the first agent events…'));
      } else {
        map.replaceChildren(...els);
      }
      $('seat-count').textContent = `${list.length} of ${S.agents.size} agents`;
      S.seatsDirty = false;
    } else {
      for (const arn of S.dirtyAgents) {
        const a = S.agents.get(arn);
        const el = tiles.get(arn);
        if (!a) continue;
        const shown = el && el.isConnected;
        if (shown !== visible(a)) { S.seatsDirty = true; break; }
        if (shown) drawTile(el, a);
      }
      if (S.seatsDirty) return drawSeats();
    }
    S.dirtyAgents.clear();
  }

  // ---------- queues, alerts, contacts ----------

  function drawQueues() {
    const wrap = $('queues');
    const list = [...S.queues.values()].filter((q) => !S.filters.queue || q.name === S.filters.queue)
      .filter((q) => q.agents_staffed > 0 || q.waiting > 0 || S.filters.queue === q.name);
    wrap.replaceChildren(...list.map((q) => {
      const oldest = q.oldest_waiting_since ? nowMs() - ms(q.oldest_waiting_since) : null;
      const level = oldest === null ? '' : oldest > 120000 ? 'bad' : oldest > 45000 ? 'warn' : '';
      const total = Math.max(1, q.agents_staffed);
      const seg = (n, c) => h('span', { style: `width:${(100 * n) / total}%;background:var(--${c})` });
      return h('div', { class: `queue ${level}`, dataset: { queue: q.name } },
        h('div', { class: 'queue-name', title: q.name }, q.name),
        h('div', { class: 'queue-main' },
          h('span', { class: 'queue-waiting', title: 'Contacts waiting' }, q.waiting),
          h('span', { class: 'queue-oldest', dataset: { tick: q.oldest_waiting_since || '' } },
            oldest === null ? 'no one waiting' : `oldest ${dur(oldest)}`)),
        h('div', { class: 'queue-seats' },
          h('span', {}, h('b', {}, q.agents_available), ' avail'),
          h('span', {}, h('b', {}, q.agents_on_contact), ' on'),
          h('span', {}, h('b', {}, q.agents_after_contact_work), ' ACW'),
          h('span', {}, h('b', {}, q.agents_staffed), ' staffed')),
        h('div', { class: 'seatbar' },
          seg(q.agents_available, 'available'), seg(q.agents_on_contact, 'on_contact'),
          seg(q.agents_after_contact_work, 'after_contact_work')));
    }));
    if (!list.length) wrap.replaceChildren(h('div', { class: 'empty' }, 'No queue activity yet.'));
    $('queue-count').textContent = `${list.length} queues`;
    S.queuesDirty = false;
  }

  function drawAlerts() {
    const list = [...S.alerts.values()].sort((a, b) => ms(b.raised_at) - ms(a.raised_at));
    const ul = $('alerts');
    ul.replaceChildren(...list.slice(0, 50).map((a) => {
      const who = a.kind === 'long_queue_wait'
        ? `Queue ${a.queue || a.subject}`
        : `${a.username || usernameOf(a.subject)}${a.status ? ` · ${a.status}` : ''}${a.queue ? ` · ${a.queue}` : ''}`;
      return h('li', {
        class: `k-${a.kind}${a.contact_id ? ' clickable' : ''}`,
        onclick: a.contact_id ? () => openContact(a.contact_id) : null,
        dataset: { testid: 'alert' },
      },
      h('span', { class: 'alert-kind' }, ALERT_LABELS[a.kind] || a.kind),
      h('span', { class: 'alert-for', dataset: { tick: a.since } }, dur(nowMs() - ms(a.since))),
      h('span', { class: 'alert-who' }, who));
    }));
    if (!list.length) ul.replaceChildren(h('li', { class: 'none' }, 'No active alerts.'));
    const badge = $('alert-count');
    badge.textContent = list.length;
    badge.classList.toggle('hot', list.length > 0);
    S.alertsDirty = false;
  }

  function drawContacts() {
    const list = [...S.contacts.values()].reverse().slice(0, 14);
    const ul = $('contacts');
    ul.replaceChildren(...list.map((c) => h('li', {
      onclick: () => openContact(c.contact_id), dataset: { testid: 'contact', contact: c.contact_id },
      title: c.contact_id,
    },
    h('span', { class: 'channel' }, icon(c.channel)),
    h('div', { class: 'contact-main' },
      h('div', {}, `${c.queue || (c.initiation_method === 'OUTBOUND' ? 'Outbound' : 'No queue')}`,
        c.agent_username ? h('span', { class: 'muted' }, ` · ${c.agent_username}`) : null),
      h('div', { class: 'contact-time' }, `${short(c.contact_id)} · ${clockTime(c.initiated_at)}`)),
    h('span', { class: `phase p-${c.phase}` }, c.phase))));
    if (!list.length) ul.replaceChildren(h('li', { class: 'none' }, 'No contacts yet.'));
    S.contactsDirty = false;
  }

  // ---------- delivery (the outbox) ----------
  //
  // What the durable outbox holds per sink, polled from /api/outbox. The card appears once
  // the outbox lists a sink or a dead letter, then stays: a sink that caught up shows
  // "0 waiting" instead of the card blinking in and out. Ages are wall-clock seconds from
  // the server (not the contact-center clock, which the demo runs faster) and tick on
  // between polls. A server without the route (404) or without a store (503) ends the
  // polling quietly.

  const OUTBOX_POLL_MS = 5000;
  const OUTBOX_WARN_S = 5 * 60;
  const D = { timer: null, busy: false, answer: null, at: 0, seen: new Set(), shown: false, warned: false };

  function bytes(n) {
    if (!(n >= 1024)) return `${n} B`;
    const units = ['KB', 'MB', 'GB', 'TB'];
    let v = n / 1024, i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
  }

  function outboxTrouble(err) {
    // Once per spell of trouble (a restarting server), not every five seconds.
    if (!D.warned) console.warn('delivery figures unavailable', err);
    D.warned = true;
  }

  function stopOutbox() {
    clearInterval(D.timer);
    D.timer = null;
    D.answer = null;
    $('delivery-card').hidden = true;
  }

  async function pollOutbox() {
    if (D.busy || D.timer === null) return;
    D.busy = true;
    try {
      const r = await fetch('/api/outbox', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (r.status === 404 || r.status === 503) { stopOutbox(); return; }
      if (!r.ok) throw new Error(`/api/outbox: ${r.status}`);
      const body = await r.json();
      if (!body || !Array.isArray(body.sinks) || typeof body.dead_letters !== 'number') {
        throw new Error('/api/outbox: unexpected answer');
      }
      if (D.timer === null) return;
      D.answer = body;
      D.at = performance.now();
      D.warned = false;
      for (const s of body.sinks) D.seen.add(s.sink);
      if (body.sinks.length || body.dead_letters > 0) D.shown = true;
      drawDelivery();
    } catch (err) {
      outboxTrouble(err);
    } finally {
      D.busy = false;
    }
  }

  function sinkRow(name, s) {
    if (!s) {
      return h('li', { class: 'idle', dataset: { testid: 'sink', sink: name } },
        h('span', { class: 'sink-name', title: name }, name),
        h('span', { class: 'sink-items' }, h('b', {}, '0'), ' waiting'),
        h('span', { class: 'sink-oldest' }, 'all delivered'));
    }
    const detail = [`${s.ready} ready`, bytes(s.bytes),
      typeof s.lag_s === 'number' ? `lag ${dur(s.lag_s * 1000)}` : null].filter(Boolean).join(' · ');
    const li = h('li', { dataset: { testid: 'sink', sink: name } },
      h('span', { class: 'sink-name', title: name }, name),
      h('span', { class: 'sink-items' }, h('b', {}, s.items), ' waiting'),
      h('span', { class: 'sink-oldest', title: 'Age of the oldest item waiting' }),
      h('span', { class: 'sink-detail' }, detail));
    if (typeof s.oldest_age_s === 'number') li.dataset.age = String(s.oldest_age_s);
    return li;
  }

  function drawDelivery() {
    const card = $('delivery-card');
    if (!D.shown || !D.answer) { card.hidden = true; return; }
    const bySink = new Map(D.answer.sinks.map((s) => [s.sink, s]));
    $('delivery').replaceChildren(...[...D.seen].sort().map((name) => sinkRow(name, bySink.get(name))));
    const waiting = D.answer.sinks.reduce((n, s) => n + s.items, 0);
    $('delivery-count').textContent = D.seen.size ? `${waiting} waiting` : '';
    const dead = $('dead-letters');
    dead.textContent = `dead letters: ${D.answer.dead_letters}`;
    dead.classList.toggle('warn', D.answer.dead_letters > 0);
    card.hidden = false;
    tickDelivery();
  }

  /** Advances the oldest ages by the wall-clock time since the answer. */
  function tickDelivery() {
    if (!D.answer) return;
    const elapsed = (performance.now() - D.at) / 1000;
    for (const li of $('delivery').querySelectorAll('li[data-age]')) {
      const age = Number(li.dataset.age) + elapsed;
      li.classList.toggle('warn', age > OUTBOX_WARN_S);
      li.querySelector('.sink-oldest').textContent = `oldest ${dur(age * 1000)}`;
    }
  }

  function startOutbox() {
    D.timer = setInterval(pollOutbox, OUTBOX_POLL_MS);
    setInterval(tickDelivery, 1000);
    pollOutbox();
  }

  // ---------- KPIs ----------

  function drawKpis() {
    let staffed = 0, available = 0, onContact = 0, acw = 0, away = 0;
    for (const a of S.agents.values()) {
      if (!kpiAgent(a)) continue;
      if (a.state_kind !== 'offline') staffed++;
      if (a.state_kind === 'available') available++;
      else if (a.state_kind === 'on_contact' || a.state_kind === 'on_hold') onContact++;
      else if (a.state_kind === 'after_contact_work') acw++;
      else if (a.state_kind === 'custom' || a.state_kind === 'missed') away++;
    }
    let waiting = 0, oldest = null;
    for (const q of S.queues.values()) {
      if (S.filters.queue && q.name !== S.filters.queue) continue;
      waiting += q.waiting;
      if (q.oldest_waiting_since) {
        const w = nowMs() - ms(q.oldest_waiting_since);
        oldest = oldest === null ? w : Math.max(oldest, w);
      }
    }
    $('kpi-staffed').textContent = staffed;
    $('kpi-available').textContent = available;
    $('kpi-on-contact').textContent = onContact;
    $('kpi-acw').textContent = acw;
    $('kpi-away').textContent = away;
    $('kpi-waiting').textContent = waiting;
    const longest = $('kpi-longest');
    longest.textContent = oldest === null ? '0:00' : dur(oldest);
    longest.className = `kpi-value${oldest > 120000 ? ' bad' : oldest > 45000 ? ' warn' : ''}`;
  }

  function kpiAgent(a) {
    return !S.filters.queue || a.queues.includes(S.filters.queue);
  }

  // ---------- metrics and charts ----------

  const CELL_FIELDS = ['offered', 'handled', 'abandoned', 'answered_in_sl', 'handle_s', 'talk_s',
    'hold_s', 'holds', 'acw_s', 'answer_wait_s', 'abandon_wait_s', 'longest_wait_s'];

  function addCell(start, kind, id, delta, sign) {
    const key = `${ms(start)}|${kind}|${id}`;
    let cell = S.cells.get(key);
    if (!cell) {
      cell = { start: ms(start), kind, id };
      for (const f of CELL_FIELDS) cell[f] = 0;
      S.cells.set(key, cell);
    }
    for (const f of CELL_FIELDS) {
      if (f === 'longest_wait_s') cell[f] = Math.max(cell[f], delta[f] || 0);
      else cell[f] += sign * (delta[f] || 0);
    }
  }

  async function loadMetrics() {
    const from = new Date(Math.floor((nowMs() - HISTORY_MS) / INTERVAL_MS) * INTERVAL_MS).toISOString();
    try {
      const m = await getJSON(`/api/metrics?interval=15m&from=${encodeURIComponent(from)}`);
      S.cells = new Map();
      for (const r of m.rows) addCell(r.start, r.kind, r.id, r, 1);
      S.chartsDirty = true;
    } catch (err) {
      console.warn('metrics unavailable', err);
    }
  }

  function series() {
    const end = Math.floor(nowMs() / INTERVAL_MS) * INTERVAL_MS;
    // From the first interval with data (at most HISTORY_MS back), and two hours at least.
    let first = end;
    for (const c of S.cells.values()) if (c.kind === 'queue' && c.start < first) first = c.start;
    const start = Math.max(end - HISTORY_MS + INTERVAL_MS, Math.min(first, end - MIN_SPAN_MS));
    const buckets = new Map();
    for (let t = start; t <= end; t += INTERVAL_MS) buckets.set(t, { handled: 0, handle_s: 0, offered: 0, answered_in_sl: 0 });
    for (const c of S.cells.values()) {
      if (c.kind !== 'queue') continue;
      if (S.filters.queue && c.id !== S.filters.queue) continue;
      const b = buckets.get(c.start);
      if (!b) continue;
      b.handled += c.handled; b.handle_s += c.handle_s; b.offered += c.offered; b.answered_in_sl += c.answered_in_sl;
    }
    const xs = [], handled = [], aht = [], sl = [], target = [];
    for (const [t, b] of buckets) {
      // The interval under way has only the contacts already over (abandons come first):
      // its averages and ratios would mislead, so it shows only its running count.
      const open = t === end;
      xs.push(t / 1000);
      handled.push(b.handled);
      aht.push(b.handled && !open ? b.handle_s / b.handled : null);
      sl.push(b.offered && !open ? (100 * b.answered_in_sl) / b.offered : null);
      target.push(80);
    }
    return { xs, handled, aht, sl, target };
  }

  function today() {
    const d = new Date(nowMs());
    d.setHours(0, 0, 0, 0);
    let handled = 0, handle = 0, offered = 0, inSl = 0;
    for (const c of S.cells.values()) {
      if (c.kind !== 'queue' || c.start < d.getTime()) continue;
      if (S.filters.queue && c.id !== S.filters.queue) continue;
      handled += c.handled; handle += c.handle_s; offered += c.offered; inSl += c.answered_in_sl;
    }
    return { handled, aht: handled ? handle / handled : null, sl: offered ? (100 * inSl) / offered : null };
  }

  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const charts = {};

  function axes(yFormat, yIncrs) {
    const axis = { stroke: '#8b9ab4', grid: { stroke: 'rgba(139,154,180,0.12)', width: 1 }, ticks: { stroke: 'rgba(139,154,180,0.2)', width: 1 }, font: '11px Inter, DejaVu Sans, sans-serif' };
    return [
      { ...axis, values: (u, vals) => vals.map((v) => new Date(v * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false })) },
      { ...axis, size: 48, values: (u, vals) => vals.map(yFormat), ...(yIncrs ? { incrs: yIncrs } : {}) },
    ];
  }

  function makeChart(id, data, opts) {
    const el = $(id);
    const width = Math.max(240, el.clientWidth);
    const chart = new uPlot({
      width, height: 190, legend: { show: true, live: false }, cursor: { points: { size: 6 } },
      scales: { x: { time: true }, ...(opts.scales || {}) },
      axes: axes(opts.yFormat, opts.yIncrs), series: [{}, ...opts.series],
    }, data, el);
    return chart;
  }

  function drawCharts() {
    const d = series();
    const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.72, 28] }) : undefined;
    if (!charts.handled) {
      charts.handled = makeChart('chart-handled', [d.xs, d.handled], {
        yFormat: (v) => String(Math.round(v)),
        series: [{ label: 'Handled', stroke: css('--on_contact'), fill: 'rgba(59,130,246,0.55)', paths: bars, points: { show: false } }],
        scales: { y: { range: (u, min, max) => [0, Math.max(4, max * 1.15)] } },
      });
      charts.aht = makeChart('chart-aht', [d.xs, d.aht], {
        yFormat: (v) => dur(v * 1000),
        // Whole minutes (or half minutes) on the axis, not 3:20 steps.
        yIncrs: [30, 60, 120, 300, 600, 900, 1800, 3600],
        series: [{ label: 'AHT', stroke: css('--after_contact_work'), width: 2, fill: 'rgba(168,85,247,0.12)', spanGaps: true, value: (u, v) => (v === null ? '–' : dur(v * 1000)) }],
        scales: { y: { range: (u, min, max) => [0, Math.max(60, (max || 0) * 1.2)] } },
      });
      charts.sl = makeChart('chart-sl', [d.xs, d.sl, d.target], {
        yFormat: (v) => `${Math.round(v)}%`,
        series: [
          { label: 'Service level', stroke: css('--available'), width: 2, fill: 'rgba(34,197,94,0.10)', spanGaps: true, value: (u, v) => (v === null ? '–' : `${v.toFixed(1)}%`) },
          { label: 'Target', stroke: 'rgba(234,179,8,0.8)', width: 1, dash: [5, 5], points: { show: false }, value: () => '80%' },
        ],
        scales: { y: { range: [0, 105] } },
      });
    } else {
      charts.handled.setData([d.xs, d.handled]);
      charts.aht.setData([d.xs, d.aht]);
      charts.sl.setData([d.xs, d.sl, d.target]);
    }
    const t = today();
    $('kpi-handled').textContent = t.handled;
    $('kpi-aht').textContent = t.aht === null ? '–' : dur(t.aht * 1000);
    const sl = $('kpi-sl');
    sl.textContent = t.sl === null ? '–' : `${t.sl.toFixed(1)}%`;
    sl.className = `kpi-value${t.sl === null ? '' : t.sl >= 80 ? ' good' : t.sl >= 60 ? ' warn' : ' bad'}`;
    $('history-scope').textContent = `${S.filters.queue || 'All queues'} · 15-minute intervals`;
    S.chartsDirty = false;
  }

  function resizeCharts() {
    for (const [name, chart] of Object.entries(charts)) {
      const el = $(`chart-${name}`);
      chart.setSize({ width: Math.max(240, el.clientWidth), height: 190 });
    }
  }

  // ---------- contact drawer ----------

  let drawerTimer = null;
  function refreshDrawerSoon() {
    clearTimeout(drawerTimer);
    drawerTimer = setTimeout(() => S.openContact && drawContact(S.openContact), 300);
  }

  function openContact(id) {
    S.openContact = id;
    $('drawer').hidden = false;
    $('scrim').hidden = false;
    $('d-title').textContent = id;
    $('d-body').replaceChildren(h('div', { class: 'muted' }, 'Loading…'));
    drawContact(id);
  }

  function closeContact() {
    S.openContact = null;
    $('drawer').hidden = true;
    $('scrim').hidden = true;
  }

  const ENTRY_COLOURS = {
    initiated: 'var(--accent)', queued: 'var(--on_hold)', contact_offered: 'var(--custom)',
    contact_connected: 'var(--on_contact)', connected_to_agent: 'var(--on_contact)',
    hold_started: 'var(--on_hold)', hold_ended: 'var(--on_contact)', acw_started: 'var(--after_contact_work)',
    acw_ended: 'var(--available)', disconnected: 'var(--after_contact_work)', completed: 'var(--available)',
    contact_missed: 'var(--missed)', contact_rejected: 'var(--missed)', contact_error: 'var(--missed)',
    record_received: 'var(--available)', record_updated: 'var(--available)',
  };
  const humanize = (s) => s.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());

  async function drawContact(id) {
    let d;
    try {
      d = await getJSON(`/api/contacts/${encodeURIComponent(id)}`);
    } catch (err) {
      if (S.openContact === id) $('d-body').replaceChildren(h('div', { class: 'muted' }, String(err.message)));
      return;
    }
    if (S.openContact !== id) return;
    const c = d.contact;
    const span = (a, b) => (a && b ? dur(ms(b) - ms(a)) : '–');
    const customer = d.record && d.record.CustomerEndpoint ? d.record.CustomerEndpoint.Address : null;
    const fact = (label, value) => h('div', { class: 'fact' }, h('div', { class: 'muted' }, label), h('div', { title: value || '' }, value || '–'));
    const first = d.entries.length ? ms(d.entries[0].at) : null;
    const body = [
      h('div', { class: 'facts' },
        fact('Channel', `${c.channel || '–'}${c.initiation_method ? ` · ${c.initiation_method.toLowerCase()}` : ''}`),
        fact('Status', humanize(c.phase)),
        fact('Queue', c.queue),
        fact('Agent', c.agent_username || usernameOf(c.agent_arn)),
        fact('Initiated', clockTime(c.initiated_at)),
        fact('Queue wait', span(c.queued_at, c.connected_at)),
        fact('Connected', clockTime(c.connected_at)),
        fact('Disconnected', clockTime(c.disconnected_at)),
        fact('Hold', c.hold_ms ? dur(c.hold_ms) : '0:00'),
        fact('After-contact work', c.acw_ms === null ? (c.phase === 'disconnected' ? 'in progress' : '–') : dur(c.acw_ms)),
        fact('Customer', customer),
        fact('Record', c.has_record ? 'received' : 'pending')),
    ];
    if (d.previous_contact_id || d.next_contact_id || c.initial_contact_id !== c.contact_id) {
      body.push(h('h3', {}, 'Transfer chain'), h('div', { class: 'chain' },
        c.initial_contact_id !== c.contact_id ? h('a', { href: '#', onclick: (e) => { e.preventDefault(); openContact(c.initial_contact_id); } }, `first ${short(c.initial_contact_id)}`) : null,
        d.previous_contact_id ? h('a', { href: '#', onclick: (e) => { e.preventDefault(); openContact(d.previous_contact_id); } }, `← previous ${short(d.previous_contact_id)}`) : null,
        d.next_contact_id ? h('a', { href: '#', onclick: (e) => { e.preventDefault(); openContact(d.next_contact_id); } }, `next ${short(d.next_contact_id)} →`) : null));
    }
    body.push(h('h3', {}, `Timeline · ${d.entries.length} steps`));
    body.push(h('ol', { class: 'timeline', dataset: { testid: 'timeline' } }, d.entries.map((e) => {
      const detail = [e.agent_arn ? usernameOf(e.agent_arn) : null, e.queue, e.duration_ms !== undefined ? `took ${dur(e.duration_ms)}` : null].filter(Boolean).join(' · ');
      return h('li', { style: `--c:${ENTRY_COLOURS[e.event] || 'var(--accent)'}` },
        h('div', { class: 't-head' },
          h('span', {}, h('span', { class: 't-event' }, humanize(e.event)), h('span', { class: `src src-${e.source}` }, SOURCE_LABELS[e.source] || e.source)),
          h('span', { class: 't-time', title: e.at }, `${clockTime(e.at, true)}${first !== null ? ` · +${dur(ms(e.at) - first)}` : ''}`)),
        detail ? h('div', { class: 't-detail' }, detail) : null);
    })));
    const attrs = Object.entries(d.attributes);
    if (attrs.length) {
      body.push(h('h3', {}, 'Attributes'), h('table', { class: 'attrs' }, h('tbody', {}, attrs.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v))))));
    }
    $('d-body').replaceChildren(...body);
  }

  // ---------- render loop ----------

  function tick() {
    $('clock-time').textContent = clockTime(nowMs());
    $('clock-date').textContent = new Date(nowMs()).toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
    const now = nowMs();
    for (const el of document.querySelectorAll('[data-tick]')) {
      const since = el.dataset.tick;
      if (!since) continue;
      const text = dur(now - ms(since));
      if (el.classList.contains('queue-oldest')) el.textContent = `oldest ${text}`;
      else el.textContent = text;
    }
  }

  let lastRate = performance.now();
  let rateUpdates = 0;
  function frame() {
    if (S.filtersDirty) {
      fillSelect($('f-queue'), S.known.queues, 'All queues');
      fillSelect($('f-profile'), S.known.profiles, 'All profiles');
      fillSelect($('f-group'), S.known.groups, 'All groups');
      S.filtersDirty = false;
    }
    if (S.loaded) {
      if (S.seatsDirty || S.dirtyAgents.size) drawSeats();
      if (S.queuesDirty) drawQueues();
      if (S.alertsDirty) drawAlerts();
      if (S.contactsDirty) drawContacts();
      drawKpis();
    }
    const t = performance.now();
    if (t - lastRate > 1000) {
      const n = S.updates - rateUpdates;
      $('rate').textContent = `${Math.round((n * 1000) / (t - lastRate))} updates/s`;
      rateUpdates = S.updates;
      lastRate = t;
    }
    requestAnimationFrame(frame);
  }

  function start() {
    bindFilters();
    $('d-close').addEventListener('click', closeContact);
    $('scrim').addEventListener('click', closeContact);
    document.addEventListener('keydown', (e) => { if (e.key === 'Escape') closeContact(); });
    window.addEventListener('resize', () => resizeCharts());
    setInterval(tick, 250);
    setInterval(() => { if (S.chartsDirty && S.loaded) drawCharts(); }, 1500);
    setInterval(() => { if (S.loaded) loadMetrics(); }, 60000);
    setInterval(() => { S.queuesDirty = true; }, 1000);
    requestAnimationFrame(frame);
    connect();
    startOutbox();
  }

  start();
})();
