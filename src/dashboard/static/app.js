// hotledger dashboard: talks only to the node that served it (same origin), through the
// `hotledger/client` library (its browser bundle, built by `npm run build` and served by the node).
// Plain browser JavaScript, no build step of its own; uPlot (window.uPlot) is served by the node as well.
import { HotledgerClient } from '/dashboard/vendor/hotledger-client.js';

{
  // One second between polls: no retries (the next poll is the retry), short timeouts.
  const client = new HotledgerClient(location.origin, { requestTimeoutMs: 3000, maxRetries: 0 });
  const WINDOW_S = 300; // seconds of history kept in the charts
  const MAX_BLOCKS = 25;
  const $ = (id) => document.getElementById(id);
  const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  const n = (v) => (typeof v === 'number' && Number.isFinite(v) ? fmt.format(v) : '–');
  const short = (h) => (typeof h === 'string' && h.length > 20 ? `${h.slice(0, 10)}…${h.slice(-6)}` : String(h ?? ''));
  const text = (id, v) => {
    const el = $(id);
    if (el.textContent !== v) el.textContent = v;
  };

  // ---- reachability -----------------------------------------------------------------------------
  // The HTTP poll decides whether the node is reachable; a closed WebSocket alone (a proxy that
  // drops upgrades, a limit) only means the block feed is reconnecting.
  let reachable = null;
  let feedUp = false;
  function showConn() {
    const conn = $('conn');
    const state = reachable === false ? 'unreachable' : reachable && !feedUp ? 'degraded' : reachable ? 'live' : 'connecting';
    const label = { unreachable: 'node unreachable', degraded: 'live · block feed reconnecting', live: 'live', connecting: 'connecting…' }[state];
    if (conn.dataset.state !== state) conn.dataset.state = state;
    if (conn.textContent !== label) conn.textContent = label;
  }
  function setReachable(ok) {
    if (ok === reachable) return;
    reachable = ok;
    $('unreachable').hidden = ok;
    showConn();
    if (ok) loadInfo();
  }
  function setFeed(up) {
    feedUp = up;
    showConn();
  }

  // ---- charts -----------------------------------------------------------------------------------
  const tpsData = [[], []];
  const finData = [[], [], [], []];
  function chart(el, series, data) {
    const width = () => Math.max(300, el.clientWidth);
    const axis = { stroke: '#8a96a3', grid: { stroke: '#263241' }, ticks: { stroke: '#263241' } };
    const u = new uPlot({ width: width(), height: 200, series: [{}, ...series], axes: [axis, { ...axis, size: 60 }], scales: { x: { time: true } } }, data, el);
    window.addEventListener('resize', () => u.setSize({ width: width(), height: 200 }));
    return u;
  }
  const tpsChart = chart($('tps-chart'), [{ label: 'TPS', stroke: '#4fb3ff', fill: 'rgba(79,179,255,0.12)', width: 2 }], tpsData);
  const finChart = chart(
    $('finality-chart'),
    [
      { label: 'P50', stroke: '#3fb950', width: 2 },
      { label: 'P95', stroke: '#d29922', width: 2 },
      { label: 'P99', stroke: '#f85149', width: 2 },
    ],
    finData,
  );
  function push(data, values) {
    data.forEach((col, i) => col.push(values[i]));
    while (data[0].length > WINDOW_S) for (const col of data) col.shift();
  }

  // ---- node state (polled every second) ----------------------------------------------------------
  async function loadInfo() {
    try {
      const info = await client.info();
      text('node-id', info.nodeId);
      text('role', info.role);
      document.title = `hotledger · ${info.nodeId}`;
    } catch {
      // the poll loop reports reachability
    }
  }

  let viewChanges = '–';
  async function pollMetrics() {
    // View changes are only exposed as a metric (Prometheus text, not the client's JSON API);
    // read it every few seconds, not every tick.
    try {
      const res = await fetch('/q/metrics', { cache: 'no-store', signal: AbortSignal.timeout(3000) });
      const m = /^hotledger_consensus_view_changes_total(?:\{[^}]*\})? (\S+)$/m.exec(await res.text());
      viewChanges = m ? n(Number(m[1])) : '–';
    } catch {
      // keep the last value
    }
  }

  async function poll() {
    const now = Date.now() / 1000;
    const [stats, cons, ready] = await Promise.allSettled([client.stats(), client.consensusStatus(), client.health({ probe: 'ready' })]);
    if (stats.status === 'rejected') {
      setReachable(false);
      return;
    }
    setReachable(true);
    const s = stats.value;
    text('height', n(s.height));
    text('committed', `${n(s.committedTxs)} committed · ${n(s.rejectedTxs)} rejected`);
    text('tps', n(s.tps.s1));
    text('tps-avg', `10 s ${n(s.tps.s10)} · 60 s ${n(s.tps.s60)}`);
    const ms = (v) => n(Math.round(v));
    text('finality', `${ms(s.latencyMs.p50)} / ${ms(s.latencyMs.p95)} / ${ms(s.latencyMs.p99)}`);
    const fill = s.mempool.capacity > 0 ? s.mempool.size / s.mempool.capacity : 0;
    text('mempool', `${n(s.mempool.size)} (${n(fill * 100)} %)`);
    $('mempool-bar').style.width = `${Math.min(100, fill * 100)}%`;
    text('pool', `${n(s.pool.utilization * 100)} %`);
    text('pool-queue', `${s.pool.threads} threads · queue ${n(s.pool.queueDepth)}`);
    push(tpsData, [now, s.tps.s1]);
    push(finData, [now, s.latencyMs.p50, s.latencyMs.p95, s.latencyMs.p99]);
    tpsChart.setData(tpsData);
    finChart.setData(finData);
    $('tps-chart').dataset.points = String(tpsData[0].length);
    $('tps-chart').dataset.max = String(Math.max(0, ...tpsData[1]));
    $('finality-chart').dataset.points = String(finData[0].length);
    if (cons.status === 'fulfilled') {
      const c = cons.value;
      text('c-mode', c.mode);
      text('c-round', n(c.round));
      text('c-leader', c.leader || '–');
      text('c-height', n(c.consensusHeight ?? c.lastCommittedHeight));
      text('c-qc', c.highQc ? `round ${n(c.highQc.round)}, ${c.highQc.votes} votes` : '–');
      text('c-views', viewChanges);
    }
    if (ready.status === 'fulfilled') {
      const sync = ready.value.checks?.find((k) => k.name === 'sync');
      const peers = sync?.data?.peers;
      const solo = cons.status === 'fulfilled' && cons.value.mode === 'solo';
      text('peers', typeof peers === 'number' ? (sync.data.needed !== undefined ? `${peers} / ${sync.data.needed} needed` : String(peers)) : solo ? 'none (solo)' : '–');
      const down = (ready.value.checks ?? []).filter((k) => k.status !== 'UP').map((k) => k.name);
      text('ready', ready.value.status === 'UP' ? 'ready' : `not ready: ${down.join(', ')}`);
    }
  }

  // ---- blocks (WebSocket feed, HTTP backfill) ----------------------------------------------------
  const rows = new Map(); // height -> <tr>
  function addBlock(b, fresh) {
    if (rows.has(b.height)) return;
    const tr = document.createElement('tr');
    tr.dataset.height = String(b.height);
    if (fresh) tr.className = 'fresh';
    const cells = [n(b.height), short(b.hash), n(b.txCount), n(b.committed), n(b.rejected), new Date(b.timestamp).toLocaleTimeString()];
    cells.forEach((v, i) => {
      const td = document.createElement('td');
      if (i === 1) {
        td.className = 'hash';
        td.title = b.hash;
      }
      td.textContent = v;
      tr.append(td);
    });
    tr.addEventListener('click', () => search(String(b.height)));
    const body = $('blocks');
    const after = [...rows.keys()].filter((h) => h < b.height).sort((x, y) => y - x)[0];
    body.insertBefore(tr, after === undefined ? null : rows.get(after));
    rows.set(b.height, tr);
    for (const h of [...rows.keys()].sort((x, y) => x - y).slice(0, Math.max(0, rows.size - MAX_BLOCKS))) {
      rows.get(h).remove();
      rows.delete(h);
    }
    $('blocks-empty').hidden = rows.size > 0;
  }
  async function backfill() {
    try {
      const latest = await client.block('latest');
      if (!latest) return; // no block yet
      addBlock(latest, false);
      const heights = [];
      for (let h = latest.height - 1; h >= Math.max(1, latest.height - 9); h--) if (!rows.has(h)) heights.push(h);
      const blocks = await Promise.allSettled(heights.map((h) => client.block(h)));
      for (const r of blocks) if (r.status === 'fulfilled' && r.value) addBlock(r.value, false);
    } catch {
      // unreachable is shown by the poll loop
    }
  }

  // The block feed: the client's subscription, opened again (backing off) whenever it ends.
  async function follow() {
    let retryMs = 500;
    for (;;) {
      try {
        const feed = client.blocks({
          onOpen: () => {
            retryMs = 500;
            setFeed(true);
            backfill();
          },
        });
        for await (const b of feed) addBlock(b, true);
      } catch {
        // closed or could not open: reconnect below
      }
      setFeed(false);
      await new Promise((r) => setTimeout(r, retryMs));
      retryMs = Math.min(5000, retryMs * 2);
    }
  }

  // ---- explorer ---------------------------------------------------------------------------------
  const result = $('result');
  function show(state, build) {
    result.dataset.state = state;
    result.replaceChildren();
    build(result);
  }
  function para(el, s, cls) {
    const p = document.createElement('p');
    p.textContent = s;
    if (cls) p.className = cls;
    el.append(p);
    return p;
  }
  function fields(el, title, pairs) {
    para(el, title).className = 'result-title';
    const dl = document.createElement('dl');
    for (const [k, v] of pairs) {
      if (v === undefined || v === null) continue;
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.dataset.field = k;
      dd.textContent = String(v);
      dl.append(dt, dd);
    }
    el.append(dl);
  }
  const blockPairs = (b) => [
    ['height', b.height],
    ['hash', b.hash],
    ['txs', b.txCount],
    ['committed', b.committed],
    ['rejected', b.rejected],
    ['time', new Date(b.timestamp).toLocaleString()],
    ['parent', b.parentHash],
    ['state root', b.stateRoot],
  ];

  let searchSeq = 0;
  async function search(raw) {
    const q = raw.trim().toLowerCase();
    $('search').value = raw.trim();
    const seq = ++searchSeq;
    const stale = () => seq !== searchSeq;
    if (!/^(\d{1,16}|latest|[0-9a-f]{64})$/.test(q)) {
      show('error', (el) => para(el, 'Enter a block height, or a transaction id or account public key (64 hex digits).'));
      return;
    }
    show('loading', (el) => para(el, 'Searching…', 'muted'));
    try {
      if (!/^[0-9a-f]{64}$/.test(q)) {
        const b = await client.block(q === 'latest' ? q : Number(q));
        if (stale()) return;
        if (b) show('found', (el) => fields(el, `Block ${b.height}`, blockPairs(b)));
        else show('not-found', (el) => para(el, q === 'latest' ? 'Not found: no block committed yet.' : `Not found: no block at height ${q}.`));
        return;
      }
      // A transaction id and an account key are both 32 bytes: try the transaction first.
      const tx = await client.transaction(q);
      if (tx) {
        const block = tx.height !== undefined ? await client.block(tx.height).catch(() => undefined) : undefined;
        if (stale()) return;
        show('found', (el) => {
          fields(el, `Transaction ${tx.status}`, [
            ['id', tx.id],
            ['status', tx.status],
            ['block', tx.height],
            ['position', tx.position],
            ['code', tx.code],
            ['reason', tx.message],
          ]);
          if (block) fields(el, `In block ${block.height}`, blockPairs(block));
        });
        return;
      }
      const acct = await client.account(q);
      if (stale()) return;
      if (acct)
        show('found', (el) =>
          fields(el, 'Account', [
            ['public key', acct.publicKey],
            ['balance', String(acct.balance)],
            ['nonce', acct.nonce],
          ]),
        );
      else show('not-found', (el) => para(el, `Not found: no transaction or account ${q} on this node.`));
    } catch (e) {
      if (stale()) return;
      // A ClientError: `status` when the node answered, none when it could not be reached.
      if (e?.status !== undefined) show('error', (el) => para(el, `Error ${e.status} ${e.code}: ${e.body?.error?.message ?? e.message}`));
      else show('error', (el) => para(el, 'Node unreachable: the search could not be sent.'));
    }
  }
  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    search($('search').value);
  });

  // ---- start ------------------------------------------------------------------------------------
  loadInfo();
  follow();
  const tick = () => poll().finally(() => setTimeout(tick, 1000));
  tick();
  pollMetrics();
  setInterval(pollMetrics, 5000);
}
