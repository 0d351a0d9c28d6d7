/**
 * The HTML report's script (plain browser JavaScript, embedded as is): the timeline's hover guide and tooltip, and
 * the growth flame graph between two chosen snapshots. Every name from the run reaches the page through textContent
 * or attribute values set by the DOM, never through markup.
 */
export const clientScript = String.raw`
(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('leakhunt-data').textContent);
  const SVG = 'http://www.w3.org/2000/svg';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

  function fmtBytes(bytes) {
    const sign = bytes < 0 ? '-' : '';
    let v = Math.abs(bytes);
    if (v < 1024) return sign + Math.round(v) + ' B';
    let i = 0;
    // As core/units.ts: 1000 to 1023 of a unit stay in it ("1012 MiB", not "0.99 GiB").
    while (Math.round(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    if (i === 0) { v /= 1024; i = 1; }
    const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
    return sign + v.toFixed(digits) + ' ' + units[i];
  }
  function signed(bytes) { return (bytes > 0 ? '+' : bytes < 0 ? '−' : '±') + fmtBytes(Math.abs(bytes)); }
  function fmtTime(sec) {
    if (sec === null || sec === undefined) return '?';
    if (sec < 120) return sec.toFixed(sec < 10 ? 2 : 1) + ' s';
    if (sec < 7200) return (sec / 60).toFixed(1) + ' min';
    return (sec / 3600).toFixed(2) + ' h';
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }

  const tip = document.getElementById('tooltip');
  function showTip(evt, title, rows) {
    tip.textContent = '';
    tip.appendChild(el('div', 'tip-title', title));
    for (const row of rows) {
      const line = el('div', 'tip-row');
      if (row.color) {
        const sw = el('span', 'swatch');
        sw.style.background = row.color;
        line.appendChild(sw);
      }
      line.appendChild(el('span', '', row.label));
      if (row.value !== undefined) line.appendChild(el('span', 'v', row.value));
      tip.appendChild(line);
    }
    tip.hidden = false;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    let x = evt.clientX + 16, y = evt.clientY + 14;
    if (x + w > window.innerWidth - 8) x = Math.max(8, evt.clientX - w - 16);
    if (y + h > window.innerHeight - 8) y = Math.max(8, evt.clientY - h - 14);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideTip() { tip.hidden = true; }

  // The timeline: a guide line, dots and a tooltip at the snapshot nearest the pointer.
  (function timeline() {
    const chart = data.timeline;
    const svg = document.getElementById('timeline-chart');
    if (!chart || !svg) return;
    const g = chart.geometry;
    const guide = document.getElementById('tl-guide');
    const overlay = document.getElementById('tl-overlay');
    const xOf = (t) => g.left + (t - g.t0) / (g.t1 - g.t0) * g.width;
    const yOf = (v) => g.top + g.height - v / g.yMax * g.height;
    function move(evt) {
      const m = svg.getScreenCTM();
      if (!m) return;
      const p = svg.createSVGPoint();
      p.x = evt.clientX; p.y = evt.clientY;
      const local = p.matrixTransform(m.inverse());
      let best = 0;
      chart.times.forEach((t, i) => { if (Math.abs(xOf(t) - local.x) < Math.abs(xOf(chart.times[best]) - local.x)) best = i; });
      const x = xOf(chart.times[best]);
      guide.setAttribute('x1', x); guide.setAttribute('x2', x); guide.setAttribute('visibility', 'visible');
      const rows = [];
      chart.series.forEach((s, i) => {
        const dot = document.getElementById('tl-dot-' + i);
        const v = s.values[best];
        if (v === null || v === undefined) { dot.setAttribute('visibility', 'hidden'); return; }
        dot.setAttribute('cx', x); dot.setAttribute('cy', yOf(v)); dot.setAttribute('visibility', 'visible');
        rows.push({ color: s.color, label: s.label, value: fmtBytes(v) });
      });
      showTip(evt, 'snapshot ' + (best + 1) + ' of ' + chart.times.length + ' · t = ' + fmtTime(chart.times[best]), rows);
    }
    function leave() {
      guide.setAttribute('visibility', 'hidden');
      chart.series.forEach((s, i) => document.getElementById('tl-dot-' + i).setAttribute('visibility', 'hidden'));
      hideTip();
    }
    overlay.addEventListener('mousemove', move);
    overlay.addEventListener('mouseleave', leave);
  })();

  // The growth flame graph (an icicle: the outermost frame on top), between two chosen snapshots.
  (function flame() {
    const f = data.flame;
    const box = document.getElementById('flame');
    const from = document.getElementById('flame-from');
    const to = document.getElementById('flame-to');
    const summary = document.getElementById('flame-summary');
    const mode = document.getElementById('flame-mode');
    if (!box || !from || !to || !mode) return;
    if (!f || f.snapshots.length === 0) {
      box.appendChild(el('p', 'empty', 'No heap profiles in the run directory, so there is no growth to show.'));
      from.disabled = true; to.disabled = true; mode.disabled = true;
      return;
    }
    f.snapshots.forEach((s, i) => {
      const label = '#' + s.sequence + ' · ' + fmtTime(s.timeSec) + ' · ' + fmtBytes(s.totalBytes) + ' in use';
      from.appendChild(new Option(label, String(i)));
      to.appendChild(new Option(label, String(i)));
    });
    from.value = '0';
    to.value = String(f.snapshots.length - 1);
    let zoom = [];

    // Each node: in-use bytes at both snapshots, and what its stacks grew by and shrank by (each stack counts in one).
    function tree(a, b) {
      const base = new Map(a.stacks), later = new Map(b.stacks);
      const root = { frame: -1, base: 0, later: 0, grow: 0, shrink: 0, children: new Map() };
      const ids = new Set([...base.keys(), ...later.keys()]);
      for (const id of ids) {
        const x = base.get(id) || 0, y = later.get(id) || 0, grow = Math.max(0, y - x), shrink = Math.max(0, x - y);
        let node = root;
        node.base += x; node.later += y; node.grow += grow; node.shrink += shrink;
        for (const frame of f.stacks[id]) {
          let child = node.children.get(frame);
          if (!child) { child = { frame, base: 0, later: 0, grow: 0, shrink: 0, children: new Map() }; node.children.set(frame, child); }
          child.base += x; child.later += y; child.grow += grow; child.shrink += shrink;
          node = child;
        }
      }
      return root;
    }
    // What the widths show: the growth (the default), or the shrinkage.
    function weight(node) { return mode.value === 'shrank' ? node.shrink : node.grow; }
    function statusOf(node) {
      if (node.base === 0 && node.later > 0) return 'new';
      if (node.later > node.base) return 'grew';
      if (node.later < node.base) return 'shrank';
      return 'same';
    }
    function hash(text) {
      let h = 2166136261;
      for (let i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 16777619); }
      return (h >>> 0) / 4294967296;
    }
    const hues = { grew: [356, 72], new: [214, 68], shrank: [140, 42], same: [220, 8] };
    function fill(node, name) {
      const [hue, sat] = hues[statusOf(node)];
      return 'hsl(' + Math.round(hue + (hash(name) - 0.5) * 16) + ',' + sat + '%,' + Math.round(58 + hash(name + '~') * 16) + '%)';
    }
    function nameOf(node) { return node.frame < 0 ? 'all stacks' : f.frames[node.frame]; }
    function shortName(full) {
      let out = '', depth = 0;
      for (const c of full) {
        if (c === '<') { if (depth === 0) out += '<…'; depth++; }
        else if (c === '>' && depth > 0) { depth--; if (depth === 0) out += '>'; }
        else if (depth === 0) out += c;
      }
      return out;
    }

    function render() {
      box.textContent = '';
      const a = f.snapshots[Number(from.value)], b = f.snapshots[Number(to.value)];
      const root = tree(a, b);
      // The net change is what grew less what shrank; stacks too small to be drawn (not tracked) make up the rest.
      const net = b.totalBytes - a.totalBytes;
      const untracked = net - (root.grow - root.shrink);
      const shrinking = mode.value === 'shrank';
      summary.textContent = 'From #' + a.sequence + ' (' + fmtTime(a.timeSec) + ') to #' + b.sequence + ' (' + fmtTime(b.timeSec) + '): in use '
        + fmtBytes(a.totalBytes) + ' → ' + fmtBytes(b.totalBytes) + ', net ' + signed(net) + ': the stacks that grew added '
        + fmtBytes(root.grow) + ', those that shrank gave back ' + fmtBytes(root.shrink)
        + (Math.abs(untracked) >= 1 ? ', stacks too small to draw ' + signed(untracked) : '')
        + '. The widths show what ' + (shrinking ? 'shrank' : 'grew') + '.';
      // The zoomed-in node, and the chain of frames above it.
      const chain = [root];
      for (const frame of zoom) {
        const next = chain[chain.length - 1].children.get(frame);
        if (!next || weight(next) <= 0) break;
        chain.push(next);
      }
      const focus = chain[chain.length - 1];
      if (weight(focus) <= 0) {
        box.appendChild(el('p', 'empty', 'Nothing ' + (shrinking ? 'shrank' : 'grew') + ' between these two snapshots.'));
        return;
      }
      const W = Math.max(320, box.clientWidth || 900), rowH = 20;
      const rects = [];
      chain.forEach((node, depth) => rects.push({ node, x: 0, w: W, depth, ancestor: depth < chain.length - 1, path: zoom.slice(0, depth) }));
      // Frames too narrow for a name stop a few rows down (a click on them zooms in to the rest).
      const narrow = 30, narrowRows = 3;
      (function lay(node, x, w, depth, path, narrowed) {
        let cx = x;
        const kids = [...node.children.values()].filter((c) => weight(c) > 0).sort((p, q) => weight(q) - weight(p));
        for (const child of kids) {
          const cw = w * weight(child) / weight(node);
          if (cw >= 0.8) {
            const childPath = path.concat([child.frame]);
            const rows = cw < narrow ? narrowed + 1 : 0;
            const cut = rows >= narrowRows && child.children.size > 0;
            rects.push({ node: child, x: cx, w: cw, depth, ancestor: false, path: childPath, cut });
            if (!cut) lay(child, cx, cw, depth + 1, childPath, rows);
          }
          cx += cw;
        }
      })(focus, 0, W, chain.length, zoom.slice(0, chain.length - 1), 0);
      const depth = Math.max(...rects.map((r) => r.depth)) + 1;
      const svg = svgEl('svg', { width: W, height: depth * rowH + 1, viewBox: '0 0 ' + W + ' ' + (depth * rowH + 1), role: 'img' });
      svg.setAttribute('aria-label', shrinking ? 'flame graph of what shrank' : 'growth flame graph');
      const total = weight(root);
      for (const r of rects) {
        const name = nameOf(r.node);
        const g = svgEl('g', { class: r.ancestor ? 'node ancestor' : 'node' });
        g.appendChild(svgEl('rect', { x: r.x.toFixed(2), y: r.depth * rowH, width: Math.max(0.5, r.w - 0.5).toFixed(2), height: rowH - 1, rx: 2, fill: fill(r.node, name) }));
        const chars = Math.floor((r.w - 8) / 6.9);
        if (chars >= 3) {
          // The name with its file:line when it fits, else the bare function name, cut short if need be.
          const full = shortName(name);
          const bare = full.replace(/ \([^()]*\)$/, '');
          const label = full.length <= chars ? full : bare;
          const t = svgEl('text', { x: (r.x + 4).toFixed(2), y: r.depth * rowH + 14 });
          t.textContent = label.length > chars ? label.slice(0, Math.max(1, chars - 1)) + '…' : label;
          g.appendChild(t);
        }
        g.addEventListener('mousemove', (evt) => showTip(evt, name, [
          { label: 'in use', value: fmtBytes(r.node.base) + ' → ' + fmtBytes(r.node.later) },
          { label: 'net change', value: signed(r.node.later - r.node.base) + ' (' + statusOf(r.node) + ')' },
          { label: (shrinking ? 'shrinkage' : 'growth') + ' below this frame', value: fmtBytes(weight(r.node)) + ' (' + (100 * weight(r.node) / total).toFixed(1) + '%)' },
        ].concat(r.cut ? [{ label: 'click to zoom in: the frames below are left out here' }] : [])));
        g.addEventListener('mouseleave', hideTip);
        g.addEventListener('click', () => { zoom = r.path.slice(); hideTip(); render(); });
        svg.appendChild(g);
      }
      box.appendChild(svg);
    }
    from.addEventListener('change', () => { zoom = []; render(); });
    to.addEventListener('change', () => { zoom = []; render(); });
    mode.addEventListener('change', () => { zoom = []; render(); });
    let pending = 0;
    window.addEventListener('resize', () => { clearTimeout(pending); pending = setTimeout(render, 120); });
    render();
  })();
})();
`;
