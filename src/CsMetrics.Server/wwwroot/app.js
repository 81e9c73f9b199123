// CsMetrics dashboard: plain JavaScript, no build step and nothing from the internet.
// Views (by the URL's hash): #/ portfolio, #/accounts?... at-risk table, #/account/<id> one account.
// The live alert feed on the side follows GET /v1/alerts/stream (read with fetch, so an API key can be sent).
'use strict';

const view = document.getElementById('view');
const keyInput = document.getElementById('key');
keyInput.value = localStorage.getItem('csmetrics.key') || '';
document.getElementById('key-form').addEventListener('submit', e => {
  e.preventDefault();
  localStorage.setItem('csmetrics.key', keyInput.value.trim());
  startFeed();
  route();
});

const esc = s => String(s ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const num = (n, digits = 1) => n == null ? '–' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits });
const money = n => n == null ? '–' : '$' + Number(n).toLocaleString('en-US', { maximumFractionDigits: 0 });
const when = t => t ? new Date(t).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short' }) : '–';
const band = b => `<span class="band band-${esc(b || 'none')}" data-band="${esc(b || 'none')}">${esc(b || 'no score')}</span>`;
const accountLink = id => `<a href="#/account/${encodeURIComponent(id)}">${esc(id)}</a>`;

function headers(extra) {
  const h = Object.assign({ Accept: 'application/json' }, extra);
  const key = localStorage.getItem('csmetrics.key');
  if (key) h.Authorization = 'Bearer ' + key;
  return h;
}

async function api(path, options = {}) {
  const response = await fetch(path, Object.assign({}, options, { headers: headers(options.headers) }));
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!response.ok) throw new Error(body?.detail || body?.title || `${response.status} ${response.statusText}`);
  if (text && body === null) throw new Error(`${path}: expected JSON, got ${text.slice(0, 80)}`);
  return body;
}

function setNav(name) {
  document.querySelectorAll('[data-nav]').forEach(a => a.classList.toggle('active', a.dataset.nav === name));
}

// ---- portfolio -------------------------------------------------------------------------------
async function portfolioView(isCurrent) {
  const p = await api('/v1/portfolio');
  if (!isCurrent()) return;
  setNav('portfolio');
  const bands = ['green', 'yellow', 'red', 'none'];
  const total = Math.max(1, p.accounts);
  const bar = bands.filter(b => p.bands[b].accounts > 0)
    .map(b => `<div class="bg-${b}" style="flex:${p.bands[b].accounts / total}" title="${b}: ${p.bands[b].accounts}">${p.bands[b].accounts}</div>`).join('');
  const movement = (name, m) => `
    <h2>Moved in the last ${name}: ${m.moved} <span class="muted">(${m.worsened} worse, ${m.improved} better)</span></h2>
    <table data-movements="${name}"><thead><tr><th>from</th><th>to</th><th class="num">accounts</th><th class="num">MRR</th></tr></thead><tbody>
    ${m.transitions.map(t => `<tr><td>${band(t.from === 'none' ? null : t.from)}</td><td>${band(t.to === 'none' ? null : t.to)}</td><td class="num">${t.accounts}</td><td class="num">${money(t.mrr)}</td></tr>`).join('')
      || '<tr><td colspan="4" class="muted">no account changed band</td></tr>'}
    </tbody></table>`;
  view.innerHTML = `
    <h1>Portfolio</h1>
    <div class="cards">
      <div class="card"><div class="label">Accounts</div><div class="value" id="total-accounts">${p.accounts}</div></div>
      <div class="card"><div class="label">MRR</div><div class="value">${money(p.mrr)}</div></div>
      <div class="card"><div class="label">At-risk MRR (red)</div><div class="value" id="at-risk-mrr">${money(p.atRiskMrr)}</div></div>
    </div>
    <h2>Band distribution</h2>
    <div class="bar" id="band-bar">${bar}</div>
    <table id="bands"><thead><tr><th>band</th><th class="num">accounts</th><th class="num">MRR</th><th></th></tr></thead><tbody>
      ${bands.map(b => `<tr data-band-row="${b}"><td>${band(b === 'none' ? null : b)}</td><td class="num" data-count>${p.bands[b].accounts}</td><td class="num">${money(p.bands[b].mrr)}</td>
        <td>${b === 'none' ? '' : `<a href="#/accounts?band=${b}">list</a>`}</td></tr>`).join('')}
    </tbody></table>
    ${movement('day', p.movements.day)}
    ${movement('week', p.movements.week)}
    <p class="muted">As of ${when(p.at)}; refreshes every 5 seconds.</p>`;
}

// ---- at-risk table ---------------------------------------------------------------------------
function queryOf() {
  const q = location.hash.split('?')[1] || '';
  return new URLSearchParams(q);
}

async function accountsView(isCurrent) {
  const q = queryOf();
  const sort = q.get('sort') || 'score';
  const params = new URLSearchParams();
  for (const k of ['band', 'segment', 'owner', 'q', 'cursor']) if (q.get(k)) params.set(k, q.get(k));
  params.set('sort', sort);
  params.set('limit', q.get('limit') || '25');
  const page = await api('/v1/accounts?' + params);
  if (!isCurrent()) return;
  setNav('accounts');
  const go = changes => {
    const next = new URLSearchParams(q);
    for (const [k, v] of Object.entries(changes)) v ? next.set(k, v) : next.delete(k);
    location.hash = '#/accounts?' + next;
  };
  const header = (key, label, cls = '') => {
    const active = sort.replace('-', '') === key;
    const arrow = active ? (sort.startsWith('-') ? ' ▼' : ' ▲') : '';
    return `<th class="${cls}" data-sort="${key}">${label}${arrow}</th>`;
  };
  view.innerHTML = `
    <h1>Accounts <span class="muted" id="match-count">${page.total} matching</span></h1>
    <form class="filters" id="filters">
      <select name="band" aria-label="band"><option value="">any band</option>${['red', 'yellow', 'green', 'none'].map(b => `<option ${q.get('band') === b ? 'selected' : ''}>${b}</option>`).join('')}</select>
      <input name="segment" placeholder="segment" value="${esc(q.get('segment'))}">
      <input name="owner" placeholder="owner" value="${esc(q.get('owner'))}">
      <input name="q" type="search" placeholder="search id or name" value="${esc(q.get('q'))}">
      <button type="submit">Filter</button>
    </form>
    <table id="accounts"><thead><tr>${header('account', 'account')}<th>name</th><th>segment</th><th>owner</th>${header('score', 'score', 'num')}<th>band</th>${header('mrr', 'MRR', 'num')}${header('updated', 'updated')}</tr></thead>
    <tbody>${page.accounts.map(a => `<tr data-account="${esc(a.account)}"><td>${accountLink(a.account)}</td><td>${esc(a.name)}</td><td>${esc(a.segment)}</td><td>${esc(a.owner)}</td>
      <td class="num" data-score>${num(a.score)}</td><td>${band(a.band)}</td><td class="num">${money(a.mrr)}</td><td class="muted">${when(a.updatedAt)}</td></tr>`).join('')
      || '<tr><td colspan="8" class="muted">no account matches</td></tr>'}</tbody></table>
    <div class="filters">
      <button id="first-page" ${q.get('cursor') ? '' : 'disabled'}>First page</button>
      <button id="next-page" ${page.nextCursor ? '' : 'disabled'}>Next page</button>
    </div>`;
  document.getElementById('filters').addEventListener('submit', e => {
    e.preventDefault();
    const form = new FormData(e.target);
    go({ band: form.get('band'), segment: form.get('segment').trim(), owner: form.get('owner').trim(), q: form.get('q').trim(), cursor: null });
  });
  view.querySelectorAll('th[data-sort]').forEach(th => th.addEventListener('click', () => {
    const key = th.dataset.sort;
    go({ sort: sort === key ? '-' + key : key, cursor: null });
  }));
  document.getElementById('first-page').addEventListener('click', () => go({ cursor: null }));
  document.getElementById('next-page').addEventListener('click', () => go({ cursor: page.nextCursor }));
}

// ---- one account -----------------------------------------------------------------------------
function trend(daily) {
  if (!daily.length) return '<p class="muted">No daily points yet.</p>';
  const w = 600, h = 160, pad = 24;
  const x = i => pad + (daily.length === 1 ? (w - 2 * pad) / 2 : i * (w - 2 * pad) / (daily.length - 1));
  const y = s => h - pad - s * (h - 2 * pad) / 100;
  const points = daily.map((d, i) => `${x(i).toFixed(1)},${y(d.score).toFixed(1)}`).join(' ');
  const dots = daily.map((d, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(d.score).toFixed(1)}" r="3" class="dot-${esc(d.band)}" fill="var(--${esc(d.band)})"><title>${esc(d.date)}: ${num(d.score)} (${esc(d.band)})</title></circle>`).join('');
  return `<svg class="trend" viewBox="0 0 ${w} ${h}" preserveAspectRatio="none" role="img" aria-label="score trend">
    <line x1="${pad}" x2="${w - pad}" y1="${y(80)}" y2="${y(80)}" stroke="var(--green)" stroke-dasharray="4 4"/>
    <line x1="${pad}" x2="${w - pad}" y1="${y(60)}" y2="${y(60)}" stroke="var(--red)" stroke-dasharray="4 4"/>
    <polyline fill="none" stroke="#4a5568" stroke-width="2" points="${points}"/>${dots}</svg>
    <p class="muted">${esc(daily[0].date)} to ${esc(daily[daily.length - 1].date)}: one point a day; dashed lines are the green (80) and red (60) edges.</p>`;
}

async function accountView(id, isCurrent) {
  const [a, history] = await Promise.all([api('/v1/accounts/' + encodeURIComponent(id)), api('/v1/accounts/' + encodeURIComponent(id) + '/history')]);
  if (!isCurrent()) return;
  setNav('');
  const p = a.profile || {};
  const components = Object.entries(a.components).map(([name, c]) => `
    <div class="card" data-component="${esc(name)}"><div class="label">${esc(name)} · weight ${num(c.weight, 0)}</div>
      <div class="value">${c.noData ? '<span class="muted">no data</span>' : num(c.score)}</div>
      <table>${Object.entries(c.metrics).map(([m, v]) => `<tr><td>${esc(m)}</td><td class="num">${v.noData ? '–' : num(v.score)}</td><td class="muted">${esc(v.detail)}</td></tr>`).join('')}</table>
    </div>`).join('');
  const alerts = a.openAlerts.map(al => `
    <tr data-alert="${esc(al.id)}"><td>${esc(al.severity)}</td><td>${esc(al.type)}</td><td>${esc(al.cause)}</td><td data-state>${esc(al.state)}</td><td>${esc(al.owner)}</td>
      <td class="alert-actions">
        <button data-action="ack" ${al.state === 'open' ? '' : 'disabled'}>Acknowledge</button>
        <button data-action="assign">Assign…</button>
        <button data-action="resolve">Resolve</button>
      </td></tr>`).join('');
  view.innerHTML = `
    <h1>${esc(p.name || a.account)} <span class="muted">${esc(a.account)}</span></h1>
    <div class="cards">
      <div class="card"><div class="label">Health score</div><div class="score-big" id="score">${num(a.score)}</div>${band(a.band)}</div>
      <div class="card"><div class="label">Profile</div>segment ${esc(p.segment || '–')}<br>owner ${esc(p.csmOwner || '–')}<br>plan ${esc(p.plan || '–')} · seats ${esc(p.seats ?? '–')}</div>
      <div class="card"><div class="label">Revenue</div>MRR ${money(p.mrr)}<br>renews ${p.renewalDate ? when(p.renewalDate) : '–'}</div>
      <div class="card"><div class="label">Events</div>${num(a.eventCount, 0)} applied<br>last ${when(a.lastEventAt)}</div>
    </div>
    ${a.explanation ? `<p id="explanation"><strong>Latest change:</strong> ${esc(a.explanation)}</p>` : ''}
    <h2>Open alerts</h2>
    ${alerts ? `<table id="alerts"><thead><tr><th>severity</th><th>type</th><th>cause</th><th>state</th><th>owner</th><th></th></tr></thead><tbody>${alerts}</tbody></table>` : '<p class="muted" id="alerts">No open alerts.</p>'}
    <h2>Trend</h2>${trend(history.daily)}
    <h2>Components</h2><div class="components">${components}</div>
    <h2>What changed the score (recent events, newest first)</h2>
    <table id="changes"><thead><tr><th>when</th><th>change</th><th>drivers</th></tr></thead><tbody>
      ${a.changes.map(c => `<tr><td class="muted">${when(c.at)}</td><td>${esc(c.summary)}</td><td>${Object.entries(c.drivers).map(([k, v]) => `${esc(k)} ${v > 0 ? '+' : ''}${num(v)}`).join(', ')}</td></tr>`).join('')
        || '<tr><td colspan="3" class="muted">no changes yet</td></tr>'}
    </tbody></table>
    <h2>Band changes</h2>
    <table id="band-changes"><thead><tr><th>when</th><th>from</th><th>to</th><th>cause</th></tr></thead><tbody>
      ${history.bandChanges.slice().reverse().map(b => `<tr><td class="muted">${when(b.at)}</td><td>${band(b.fromBand)} ${num(b.from)}</td><td>${band(b.toBand)} ${num(b.to)}</td><td>${esc(b.cause)}</td></tr>`).join('')}
    </tbody></table>`;
  view.querySelectorAll('tr[data-alert] button').forEach(b => b.addEventListener('click', async () => {
    const alertId = b.closest('tr').dataset.alert;
    const action = b.dataset.action;
    let body;
    if (action === 'assign') {
      const owner = prompt('Assign to (team or person):');
      if (!owner) return;
      body = JSON.stringify({ owner });
    }
    try {
      await api(`/v1/alerts/${encodeURIComponent(alertId)}/${action}`, { method: 'POST', body, headers: body ? { 'Content-Type': 'application/json' } : {} });
      await accountView(id, isCurrent);
    } catch (e) {
      b.closest('td').insertAdjacentHTML('beforeend', `<span class="error">${esc(e.message)}</span>`);
    }
  }));
}

// ---- routing and refresh ---------------------------------------------------------------------
// Each navigation is a generation: a slower answer for an earlier one is dropped, never drawn over
// the current page. The portfolio refreshes every 5 s, also after a failed refresh.
let refreshTimer;
let generation = 0;
async function route() {
  clearTimeout(refreshTimer);
  const mine = ++generation;
  const isCurrent = () => mine === generation;
  const hash = location.hash || '#/';
  const portfolio = !hash.startsWith('#/account');
  try {
    if (hash.startsWith('#/account/')) {
      await accountView(decodeURIComponent(hash.slice('#/account/'.length)), isCurrent);
    } else if (hash.startsWith('#/accounts')) {
      await accountsView(isCurrent);
    } else {
      await portfolioView(isCurrent);
    }
  } catch (e) {
    if (isCurrent()) view.innerHTML = `<p class="error" id="error">${esc(e.message)}</p>`;
  } finally {
    if (portfolio && isCurrent()) refreshTimer = setTimeout(route, 5000);
  }
}
window.addEventListener('hashchange', route);

// ---- live alert feed -------------------------------------------------------------------------
const feed = document.getElementById('feed');
const feedState = document.getElementById('feed-state');
let feedAbort;
let lastEventId = null;

function showAlert(alert) {
  const li = document.createElement('li');
  li.className = alert.severity;
  li.dataset.alert = alert.id;
  li.dataset.change = alert.change;
  li.innerHTML = `<strong>${esc(alert.type.replace(/_/g, ' '))}</strong> · ${esc(alert.change)} · ${accountLink(alert.account)}
    <div>${esc(alert.cause)}</div><div class="when">${esc(alert.severity)} · ${when(alert.updatedAt || alert.at)}</div>`;
  feed.prepend(li);
  while (feed.children.length > 200) feed.lastChild.remove();
}

async function startFeed() {
  if (feedAbort) feedAbort.abort();
  const abort = feedAbort = new AbortController();
  for (let delay = 1000; !abort.signal.aborted; delay = Math.min(delay * 2, 15000)) {
    try {
      const h = headers({ Accept: 'text/event-stream' });
      if (lastEventId) h['Last-Event-ID'] = lastEventId;
      const response = await fetch('/v1/alerts/stream', { headers: h, signal: abort.signal });
      if (!response.ok) throw new Error(`${response.status}`);
      feedState.textContent = 'live';
      feedState.className = 'pill live';
      delay = 1000;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let data = '', id = null;
          for (const line of message.split('\n')) {
            if (line.startsWith('data: ')) data += line.slice(6);
            else if (line.startsWith('id: ')) id = line.slice(4);
          }
          if (id) lastEventId = id;
          if (data) showAlert(JSON.parse(data));
        }
      }
    } catch (e) {
      if (abort.signal.aborted) return;
    }
    feedState.textContent = 'reconnecting';
    feedState.className = 'pill';
    await new Promise(r => setTimeout(r, delay));
  }
}

startFeed();
route();
