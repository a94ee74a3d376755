// hotledger cluster view: every node of `hotledger cluster`, as gathered by the cluster process
// (/cluster/status), redrawn every half second. Plain browser JavaScript, no build step.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  const n = (v) => (typeof v === 'number' && Number.isFinite(v) ? fmt.format(v) : '–');
  const LABEL = { up: 'up', down: 'down', 'not-ready': 'not ready', starting: 'starting' };
  const rows = new Map(); // node id -> { tr, cells }

  function row(node) {
    let r = rows.get(node.id);
    if (r) return r;
    const tr = document.createElement('tr');
    tr.dataset.node = node.id;
    const cells = {};
    for (const k of ['id', 'role', 'process', 'status', 'height', 'lag', 'tps', 'p99', 'mempool', 'since', 'link']) {
      const td = document.createElement('td');
      td.dataset.col = k;
      tr.append(td);
      cells[k] = td;
    }
    const a = document.createElement('a');
    a.href = `${node.url}/`;
    a.target = '_blank';
    a.rel = 'noopener';
    a.textContent = node.url.replace(/^https?:\/\//, '');
    cells.link.append(a);
    const pill = document.createElement('span');
    pill.className = 'status';
    cells.status.append(pill);
    r = { tr, cells, pill };
    rows.set(node.id, r);
    $('nodes').append(tr);
    return r;
  }
  const set = (td, v) => {
    if (td.textContent !== v) td.textContent = v;
  };

  function render(s) {
    let up = 0;
    for (const node of s.nodes) {
      const r = row(node);
      r.tr.dataset.status = node.status;
      r.pill.dataset.status = node.status;
      set(r.pill, LABEL[node.status] ?? node.status);
      r.pill.title = node.error ?? '';
      set(r.cells.id, node.id);
      set(r.cells.role, node.role);
      set(r.cells.process, node.process);
      set(r.cells.height, n(node.height));
      set(r.cells.lag, n(node.lag));
      set(r.cells.tps, n(node.tps));
      set(r.cells.p99, n(node.p99Ms));
      set(r.cells.mempool, n(node.mempool));
      set(r.cells.since, new Date(node.since).toLocaleTimeString());
      if (node.status === 'up') up++;
    }
    const down = s.nodes.filter((x) => x.status === 'down').length;
    set($('summary'), `${s.nodes.length} nodes · ${up} up · ${down} down · height ${n(s.maxHeight)}`);
  }

  let reachable = null;
  function setReachable(ok) {
    if (ok === reachable) return;
    reachable = ok;
    $('conn').dataset.state = ok ? 'live' : 'unreachable';
    $('conn').textContent = ok ? 'live' : 'cluster unreachable';
    $('unreachable').hidden = ok;
  }

  async function poll() {
    try {
      const res = await fetch('/cluster/status', { cache: 'no-store', signal: AbortSignal.timeout(2000) });
      render(await res.json());
      setReachable(true);
    } catch {
      setReachable(false);
    }
  }
  const tick = () => poll().finally(() => setTimeout(tick, 500));
  tick();
})();
