// The fixed parts of the timeline page (sim/timeline.h): the HTML head and styles, and
// the script that draws DATA on a canvas. Plain JavaScript, no libraries: the page opens
// offline.
//
// The script marks the body data-rendered="yes" once it has drawn, and reports any error
// (window.onerror) in #errors: sim/timeline_test loads the page in headless Chromium and
// reads both back from the DOM.
#ifndef RAFTBADGER_SIM_TIMELINE_PAGE_H_
#define RAFTBADGER_SIM_TIMELINE_PAGE_H_

namespace rb::sim {

inline constexpr char kTimelinePageHead[] = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>RaftBadger simulation timeline</title>
<style>
body { font: 13px sans-serif; margin: 8px; color: #222; }
#summary { margin-bottom: 6px; }
#violation { background: #fdecea; border: 1px solid #e57373; padding: 6px; white-space: pre-wrap;
             font-family: monospace; max-height: 14em; overflow: auto; }
#violation.ok { background: #e8f5e9; border-color: #81c784; }
#controls { margin: 6px 0; }
#controls button { margin-right: 4px; }
#types label { margin-right: 8px; white-space: nowrap; }
#canvas { border: 1px solid #ccc; cursor: grab; display: block; }
#tip { position: fixed; pointer-events: none; background: #fffde7; border: 1px solid #999;
       padding: 3px 5px; font-family: monospace; font-size: 12px; display: none; max-width: 60em;
       white-space: pre-wrap; }
#errors { color: #b71c1c; font-family: monospace; white-space: pre-wrap; }
#legend span { display: inline-block; width: 12px; height: 10px; margin: 0 3px 0 10px; }
</style>
</head>
<body>
<div id="errors"></div>
<div id="summary"></div>
<div id="violation"></div>
<div id="controls">
  <button id="zoom-in">zoom in</button><button id="zoom-out">zoom out</button>
  <button id="whole">whole run</button><button id="to-violation">violation</button>
  <span id="window"></span>
  <span id="legend"></span>
</div>
<div id="types"></div>
<canvas id="canvas"></canvas>
<div id="tip"></div>
<script>
window.onerror = function (message, source, line) {
  document.getElementById('errors').textContent += 'script error: ' + message + ' (line ' + line + ')\n';
  document.body.dataset.rendered = 'error';
};
</script>
)HTML";

inline constexpr char kTimelinePageScript[] = R"HTML(<script>
(function () {
  'use strict';
  const ROLE_COLOURS = {leader: '#2e7d32', candidate: '#f9a825', 'pre-candidate': '#ffe082',
                        follower: '#b0bec5', down: '#263238'};
  // The simulator's trace kinds (sim/cluster.h) that get a marker, and their colours.
  const EVENT_COLOURS = {1: '#1565c0', 2: '#c62828', 6: '#ef6c00', 7: '#ef6c00', 8: '#8d6e63',
                         9: '#2e7d32', 14: '#6a1b9a', 17: '#00838f', 16: '#00838f',
                         18: '#c62828', 20: '#c62828', 21: '#c62828', 22: '#ad1457',
                         23: '#ad1457', 27: '#37474f', 28: '#37474f', 30: '#ef6c00',
                         31: '#795548', 32: '#795548'};
  const OP_COLOURS = {get: '#64b5f6', put: '#81c784', update: '#aed581', delete: '#e57373',
                      cas: '#ba68c8', register: '#bdbdbd'};
  const LABEL_W = 110, AXIS_H = 22, NODE_H = 26, FAULT_H = 18, CLIENT_H = 16, GAP = 6;

  const d = DATA;
  const clients = [...new Set(d.ops.map(o => o[0]))].sort((a, b) => a - b);
  const lane = {};  // node id -> y of its lane's top
  let y = AXIS_H;
  for (const n of d.nodes) { lane[n] = y; y += NODE_H; }
  const faultY = y + GAP; y = faultY + FAULT_H + GAP;
  const clientLane = {};
  for (const c of clients) { clientLane[c] = y; y += CLIENT_H; }
  const height = y + 4;

  const orderPos = new Map(d.lin.order.map((op, i) => [op, i + 1]));
  const linKey = d.lin.key;
  const shown = d.types.map(() => true);
  const end = Math.max(d.end_us, 1);
  let t0 = 0, t1 = end;

  // Role segments per node: [from, to, role, term].
  const segments = {};
  for (const n of d.nodes) segments[n] = [];
  for (const [t, n, role, term] of d.roles) {
    const s = segments[n];
    if (s.length) s[s.length - 1][1] = t;
    s.push([t, end, role, term]);
  }

  const canvas = document.getElementById('canvas');
  const ctx = canvas.getContext('2d');
  const tip = document.getElementById('tip');

  function width() { return Math.max(600, window.innerWidth - 24); }
  function x(t) { return LABEL_W + (t - t0) / (t1 - t0) * (canvas.width - LABEL_W); }
  function tAt(px) { return t0 + (px - LABEL_W) / (canvas.width - LABEL_W) * (t1 - t0); }
  function fmt(us) { return (us / 1e6).toFixed(us < 1e7 ? 4 : 3) + 's'; }

  function setWindow(a, b) {
    const span = Math.max(b - a, 100);
    a = Math.max(0, Math.min(a, end - span));
    t0 = a; t1 = Math.min(end, a + span);
    draw();
  }

  // What the mouse may point at, rebuilt on every draw: [x0, y0, x1, y1, text].
  let targets = [];

  function draw() {
    canvas.width = width();
    canvas.height = height;
    targets = [];
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = '11px sans-serif';
    // Time axis.
    ctx.fillStyle = '#555';
    const step = Math.pow(10, Math.floor(Math.log10((t1 - t0) / 5)));
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      ctx.fillRect(x(t), AXIS_H - 5, 1, 5);
      ctx.fillText(fmt(t), x(t) + 2, AXIS_H - 8);
    }
    // Node lanes: role and term.
    for (const n of d.nodes) {
      ctx.fillStyle = '#222';
      ctx.fillText('node ' + n, 4, lane[n] + NODE_H / 2 + 4);
      for (const [a, b, role, term] of segments[n]) {
        if (b < t0 || a > t1) continue;
        const xa = Math.max(LABEL_W, x(a)), xb = Math.min(canvas.width, x(b));
        ctx.fillStyle = ROLE_COLOURS[role] || '#eee';
        ctx.fillRect(xa, lane[n] + 3, Math.max(1, xb - xa), NODE_H - 8);
        if (xb - xa > 40 && role !== 'down') {
          ctx.fillStyle = role === 'leader' ? '#fff' : '#222';
          ctx.fillText('T' + term, xa + 3, lane[n] + NODE_H / 2 + 3);
        }
        targets.push([xa, lane[n] + 3, xb, lane[n] + NODE_H - 5,
                      'node ' + n + ': ' + role + ' in term ' + term + ' from ' + fmt(a)]);
      }
    }
    ctx.fillStyle = '#222';
    ctx.fillText('faults', 4, faultY + FAULT_H / 2 + 4);
    // Messages: a line from the sender's lane at send time to the receiver's at delivery.
    ctx.lineWidth = 1;
    for (const m of d.messages) {
      const [s, r, from, to, type, text] = m;
      if (!shown[type] || r < t0 || s > t1 || lane[from] === undefined || lane[to] === undefined) continue;
      const xs = x(s), xr = x(r);
      const ys = lane[from] + NODE_H / 2, yr = lane[to] + NODE_H / 2;
      ctx.strokeStyle = r === s ? 'rgba(198,40,40,0.5)' : 'rgba(21,101,192,0.35)';
      ctx.beginPath(); ctx.moveTo(xs, ys); ctx.lineTo(r === s ? xs + 4 : xr, r === s ? ys + 6 : yr); ctx.stroke();
      targets.push([Math.min(xs, xr) - 1, Math.min(ys, yr), Math.max(xs, xr) + 1, Math.max(ys, yr),
                    (r === s ? 'dropped: ' : fmt(s) + ' -> ' + fmt(r) + ': ') + text]);
    }
    // Events: a tick on the node's lane, or on the faults lane; one that lasts (a pause)
    // also shades its span.
    for (const [t, kind, n, text, until] of d.events) {
      if (t > t1 || Math.max(t, until) < t0) continue;
      const colour = EVENT_COLOURS[kind];
      if (!colour) continue;
      const top = lane[n] !== undefined && n !== 0 ? lane[n] : faultY;
      const h = lane[n] !== undefined && n !== 0 ? NODE_H : FAULT_H;
      if (until > t) {
        const xa = Math.max(LABEL_W, x(t)), xb = Math.min(canvas.width, x(until));
        ctx.fillStyle = 'rgba(106,27,154,0.25)';
        ctx.fillRect(xa, top, Math.max(1, xb - xa), h);
        ctx.fillStyle = colour;  // a bar along the top marks the span plainly
        ctx.fillRect(xa, top, Math.max(1, xb - xa), 3);
        targets.push([xa, top, xb, top + h, fmt(t) + ' to ' + fmt(until) + ': ' + text]);
      }
      if (t < t0) continue;  // a span that began before the window: no tick
      ctx.fillStyle = colour;
      ctx.fillRect(x(t) - 1, top, 3, h);
      targets.push([x(t) - 3, top, x(t) + 3, top + h, fmt(t) + ': ' + text]);
    }
    // Client operations: a bar from call to return; the failed key's outlined, with their
    // place in the longest legal order, and the one that cannot follow them in red.
    for (const c of clients) {
      ctx.fillStyle = '#222';
      ctx.fillText('client ' + c, 4, clientLane[c] + CLIENT_H - 4);
    }
    d.ops.forEach((o, i) => {
      const [c, kind, key, value, read, completed, call, ret, mode] = o;
      if (ret < t0 || call > t1) return;
      const xa = Math.max(LABEL_W, x(call)), xb = Math.max(xa + 2, Math.min(canvas.width, x(ret)));
      const top = clientLane[c] + 2, h = CLIENT_H - 4;
      ctx.fillStyle = completed ? (OP_COLOURS[kind] || '#ccc') : '#e0e0e0';
      ctx.fillRect(xa, top, xb - xa, h);
      if (i === d.lin.blocked) {
        ctx.fillStyle = '#c62828'; ctx.fillRect(xa, top, xb - xa, h);
      }
      if (key === linKey && linKey !== '') {
        ctx.strokeStyle = '#000'; ctx.strokeRect(xa + 0.5, top + 0.5, xb - xa - 1, h - 1);
        const pos = orderPos.get(i);
        if (pos !== undefined && xb - xa > 14) { ctx.fillStyle = '#000'; ctx.fillText(String(pos), xa + 2, top + h - 2); }
      }
      let text = 'client ' + c + ' ' + kind + (mode ? ' (' + mode + ')' : '') + ' ' + key;
      if (value) text += ' = ' + value;
      text += completed ? (kind === 'get' ? ' -> ' + (read === null ? '(absent)' : read) : ' ok') : ' timed out';
      text += '\ncalled ' + fmt(call) + (completed ? ', returned ' + fmt(ret) : '');
      if (i === d.lin.blocked) text += '\ncannot follow the longest legal order';
      else if (orderPos.has(i)) text += '\nplace ' + orderPos.get(i) + ' in the longest legal order';
      targets.push([xa, top, xb, top + h, text]);
    });
    // The violation: where it was found, and for a linearizability failure, where the
    // operation that cannot be ordered returned.
    if (blocked !== null && blocked[7] >= t0 && blocked[7] <= t1) {
      ctx.fillStyle = '#c62828';
      ctx.fillRect(x(blocked[7]) - 1, AXIS_H, 2, height - AXIS_H);
    }
    if (!d.ok && d.failure_us >= t0 && d.failure_us <= t1) {
      ctx.fillStyle = '#c62828';
      ctx.fillRect(x(d.failure_us) - 1, AXIS_H, 2, height - AXIS_H);
      targets.push([x(d.failure_us) - 3, AXIS_H, x(d.failure_us) + 3, height, d.failure]);
    }
    document.getElementById('window').textContent = fmt(t0) + ' to ' + fmt(t1);
  }

  // Header, legend and message-type filters.
  document.getElementById('summary').textContent =
      'seed ' + d.seed + ': ' + d.nodes.length + ' nodes, ' + d.messages.length + ' messages, ' +
      d.ops.length + ' client operations, ' + fmt(end) + ' of virtual time. ' + d.scenario;
  const violation = document.getElementById('violation');
  if (d.ok) {
    violation.textContent = 'No violation: every check passed.';
    violation.className = 'ok';
  } else {
    violation.textContent = d.checker + ' check failed ' + d.failure;
  }
  const legend = document.getElementById('legend');
  for (const [role, colour] of Object.entries(ROLE_COLOURS)) {
    const box = document.createElement('span'); box.style.background = colour;
    legend.appendChild(box); legend.appendChild(document.createTextNode(role));
  }
  const types = document.getElementById('types');
  d.types.forEach((name, i) => {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox'; box.checked = true; box.dataset.type = name;
    box.onchange = () => { shown[i] = box.checked; draw(); };
    label.appendChild(box); label.appendChild(document.createTextNode(name));
    types.appendChild(label);
  });

  // Navigation: buttons, the wheel (zoom around the pointer) and dragging (pan).
  const zoom = (f, at) => setWindow(at - (at - t0) * f, at + (t1 - at) * f);
  document.getElementById('zoom-in').onclick = () => zoom(0.5, (t0 + t1) / 2);
  document.getElementById('zoom-out').onclick = () => zoom(2, (t0 + t1) / 2);
  document.getElementById('whole').onclick = () => setWindow(0, end);
  // A linearizability failure is found at the end of the run; what matters is where the
  // operation that cannot be ordered ran.
  const blocked = d.lin.blocked === null ? null : d.ops[d.lin.blocked];
  const toViolation = () => blocked
      ? setWindow(blocked[6] - 1e6, blocked[7] + 2e5)
      : setWindow(d.failure_us - 1e6, d.failure_us + 2e5);
  document.getElementById('to-violation').onclick = toViolation;
  canvas.addEventListener('wheel', e => {
    e.preventDefault();
    zoom(e.deltaY < 0 ? 0.8 : 1.25, tAt(e.offsetX));
  }, {passive: false});
  let dragFrom = null;
  canvas.addEventListener('mousedown', e => { dragFrom = [e.offsetX, t0, t1]; });
  window.addEventListener('mouseup', () => { dragFrom = null; });
  canvas.addEventListener('mousemove', e => {
    if (dragFrom) {
      const dt = (dragFrom[0] - e.offsetX) / (canvas.width - LABEL_W) * (dragFrom[2] - dragFrom[1]);
      setWindow(dragFrom[1] + dt, dragFrom[2] + dt);
      return;
    }
    let hit = null;
    for (let i = targets.length - 1; i >= 0 && hit === null; --i) {
      const [x0, y0, x1, y1, text] = targets[i];
      if (e.offsetX >= x0 && e.offsetX <= x1 && e.offsetY >= y0 - 2 && e.offsetY <= y1 + 2) hit = text;
    }
    tip.style.display = hit ? 'block' : 'none';
    if (hit) { tip.textContent = hit; tip.style.left = (e.clientX + 12) + 'px'; tip.style.top = (e.clientY + 12) + 'px'; }
  });
  window.addEventListener('resize', draw);

  // Open at the violation (a window around it), or the whole run.
  if (d.ok) setWindow(0, end); else toViolation();
  if (document.body.dataset.rendered !== 'error') document.body.dataset.rendered = 'yes';
})();
</script>
</body>
</html>
)HTML";

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_TIMELINE_PAGE_H_
