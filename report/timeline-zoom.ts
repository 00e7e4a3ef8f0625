// In-page zoom and pan for the HTML timeline: mouse wheel (zoom around the pointer), drag (pan),
// keyboard on the focused timeline (+/- zoom, arrows pan, 0 or Home resets). The SVG is drawn
// complete by report/timeline.ts, so the page reads the same without JavaScript; this script only
// moves what is already there. Every time-placed element carries its times in data attributes:
//   data-t0 / data-t1 (ns; empty = the window's edge), or data-start-ns / data-end-ns (states),
//   data-ts-ns (IPI arrows, finding markers and guides).
// The x scale (LEFT + PLOT of the 1400-wide viewBox) must match report/timeline.ts.

/** The viewBox geometry shared with report/timeline.ts. */
export const GEOMETRY = { WIDTH: 1400, LEFT: 130, RIGHT: 24 } as const;

/** Inline script: plain ES2017, no dependency, run once per page. */
export const ZOOM_SCRIPT = `(function () {
'use strict';
var W = ${GEOMETRY.WIDTH}, LEFT = ${GEOMETRY.LEFT}, PLOT = ${GEOMETRY.WIDTH - GEOMETRY.LEFT - GEOMETRY.RIGHT};
var NS = 'http://www.w3.org/2000/svg';
function num(v) { return v === '' || v === null || v === undefined ? null : Number(v); }
function fmt(n) { return String(Math.round(n * 10) / 10); }
function setup(svg) {
  var full0 = Number(svg.getAttribute('data-from-ns')), full1 = Number(svg.getAttribute('data-to-ns'));
  if (!(full1 > full0)) return;
  var v0 = full0, v1 = full1;
  var minSpan = Math.max(1000, (full1 - full0) / 100000);
  function x(t) { return LEFT + (Math.min(Math.max(t, v0), v1) - v0) / (v1 - v0) * PLOT; }
  function place(el, a, b) {
    var t0 = a === null ? v0 : a, t1 = b === null ? v1 : b;
    var hidden = t1 < v0 || t0 > v1;
    el.style.display = hidden ? 'none' : '';
    if (hidden) return null;
    var x0 = x(t0), x1 = x(t1);
    return [x0, x1];
  }
  function ticks() {
    var axis = svg.querySelector('g.axis');
    var old = axis.querySelectorAll('.grid, .tick');
    var y1 = old.length ? old[0].getAttribute('y1') : null, y2 = old.length ? old[0].getAttribute('y2') : null;
    var ty = axis.querySelector('.tick') ? axis.querySelector('.tick').getAttribute('y') : null;
    if (y1 === null || ty === null) return;
    for (var i = 0; i < old.length; i++) old[i].remove();
    var span = (v1 - v0) / 1e9, raw = span / 10, pow = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * pow; }).find(function (s) { return s >= raw; });
    var digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    for (var t = Math.ceil(v0 / 1e9 / step) * step; t <= v1 / 1e9 + 1e-12; t += step) {
      var px = x(Math.round(t * 1e9));
      var line = document.createElementNS(NS, 'line');
      line.setAttribute('class', 'grid'); line.setAttribute('x1', fmt(px)); line.setAttribute('x2', fmt(px));
      line.setAttribute('y1', y1); line.setAttribute('y2', y2);
      var text = document.createElementNS(NS, 'text');
      text.setAttribute('class', 'tick'); text.setAttribute('x', fmt(px)); text.setAttribute('y', ty);
      text.setAttribute('text-anchor', px - LEFT < 14 ? 'start' : LEFT + PLOT - px < 14 ? 'end' : 'middle');
      text.textContent = t.toFixed(digits);
      axis.insertBefore(text, axis.firstChild); axis.insertBefore(line, axis.firstChild);
    }
  }
  function stateAt(lane, t) {
    var rects = lane.querySelectorAll('rect.state[data-start-ns]'), found = null;
    for (var i = 0; i < rects.length; i++) {
      var a = num(rects[i].getAttribute('data-start-ns')), b = num(rects[i].getAttribute('data-end-ns'));
      if ((a === null || a <= t) && (b === null || t < b)) found = rects[i].getAttribute('class').replace(/^state state-/, '');
    }
    return found;
  }
  function render() {
    svg.setAttribute('data-view-from-ns', String(Math.round(v0)));
    svg.setAttribute('data-view-to-ns', String(Math.round(v1)));
    var els = svg.querySelectorAll('[data-t0], rect.state[data-start-ns]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var a = num(el.getAttribute(el.hasAttribute('data-t0') ? 'data-t0' : 'data-start-ns'));
      var b = num(el.getAttribute(el.hasAttribute('data-t0') ? 'data-t1' : 'data-end-ns'));
      var p = place(el, a, b);
      if (!p) continue;
      if (el.tagName === 'text') {
        var fits = p[1] - p[0] > Number(el.getAttribute('data-min-width') || 0);
        el.setAttribute('x', fmt(p[0] + 5));
        el.style.display = fits ? '' : 'none';
      } else {
        el.setAttribute('x', fmt(p[0]));
        el.setAttribute('width', fmt(Math.max(Number(el.getAttribute('data-min-w') || 1), p[1] - p[0])));
      }
    }
    var pts = svg.querySelectorAll('[data-ts-ns]');
    for (var j = 0; j < pts.length; j++) {
      var t = num(pts[j].getAttribute('data-ts-ns'));
      if (t === null) continue;
      var inside = t >= v0 && t <= v1;
      var px = fmt(x(t));
      if (pts[j].tagName === 'line') {
        pts[j].style.display = inside ? '' : 'none';
        pts[j].setAttribute('x1', px); pts[j].setAttribute('x2', px);
      } else {
        pts[j].style.display = inside ? '' : 'none';
        var cs = pts[j].querySelectorAll('circle'), ts = pts[j].querySelectorAll('text');
        for (var k = 0; k < cs.length; k++) cs[k].setAttribute('cx', px);
        for (var m = 0; m < ts.length; m++) ts[m].setAttribute('x', px);
      }
    }
    var lanes = svg.querySelectorAll('g.lane[data-cpu]');
    for (var l = 0; l < lanes.length; l++) {
      var sub = lanes[l].querySelector('text.lane-sub');
      if (!sub || lanes[l].classList.contains('nonexistent')) continue;
      var s = stateAt(lanes[l], v1 - 1);
      sub.textContent = s ? s.replace('_', ' ') + ' at ' + (v1 / 1e9).toFixed(3) + ' s' : 'state unknown';
    }
    hideCovered();
    ticks();
  }
  function hideCovered() {
    var rings = svg.querySelectorAll('g.finding circle');
    var labels = svg.querySelectorAll('g.labels text');
    for (var i = 0; i < labels.length; i++) {
      var lb = labels[i];
      if (lb.style.display === 'none') continue;
      var lx = Number(lb.getAttribute('x')), ly = Number(lb.getAttribute('y')), lw = lb.textContent.length * 6.5;
      for (var k = 0; k < rings.length; k++) {
        if (rings[k].closest('g.finding').style.display === 'none') continue;
        var cx = Number(rings[k].getAttribute('cx')), cy = Number(rings[k].getAttribute('cy'));
        if (Math.abs(cy - ly + 4) < 14 && cx > lx - 12 && cx < lx + lw + 12) { lb.style.display = 'none'; break; }
      }
    }
  }
  function clamp() {
    var span = Math.min(full1 - full0, Math.max(minSpan, v1 - v0));
    if (v0 < full0) { v0 = full0; v1 = v0 + span; }
    if (v1 > full1) { v1 = full1; v0 = v1 - span; }
    v1 = v0 + span;
  }
  function zoom(factor, at) {
    var t = at === undefined ? (v0 + v1) / 2 : at;
    v0 = t - (t - v0) * factor; v1 = t + (v1 - t) * factor; clamp(); render();
  }
  function pan(fraction) { var d = (v1 - v0) * fraction; v0 += d; v1 += d; clamp(); render(); }
  function timeAt(clientX) {
    var ctm = svg.getScreenCTM(), sx;
    if (ctm) { var pt = svg.createSVGPoint(); pt.x = clientX; pt.y = 0; sx = pt.matrixTransform(ctm.inverse()).x; }
    else { var r = svg.getBoundingClientRect(); sx = (clientX - r.left) * W / r.width; }
    return v0 + (Math.min(Math.max(sx, LEFT), LEFT + PLOT) - LEFT) / PLOT * (v1 - v0);
  }
  svg.addEventListener('wheel', function (e) {
    e.preventDefault();
    zoom(e.deltaY < 0 ? 1 / 1.25 : 1.25, timeAt(e.clientX));
  }, { passive: false });
  var drag = null;
  svg.addEventListener('pointerdown', function (e) { drag = { x: e.clientX, v0: v0, v1: v1 }; svg.classList.add('dragging'); });
  window.addEventListener('pointerup', function () { drag = null; svg.classList.remove('dragging'); });
  svg.addEventListener('pointermove', function (e) {
    if (!drag) return;
    var r = svg.getBoundingClientRect();
    var d = -(e.clientX - drag.x) * W / r.width / PLOT * (drag.v1 - drag.v0);
    v0 = drag.v0 + d; v1 = drag.v1 + d; clamp(); render();
  });
  svg.setAttribute('tabindex', '0');
  svg.addEventListener('keydown', function (e) {
    var k = e.key;
    if (k === '+' || k === '=') zoom(1 / 1.5);
    else if (k === '-' || k === '_') zoom(1.5);
    else if (k === 'ArrowLeft') pan(-0.1);
    else if (k === 'ArrowRight') pan(0.1);
    else if (k === '0' || k === 'Home') { v0 = full0; v1 = full1; render(); }
    else return;
    e.preventDefault();
  });
  svg.ipitraceZoom = { zoom: zoom, pan: pan, view: function () { return [v0, v1]; } };
  var hint = document.querySelector('[data-zoom-help="' + svg.id + '"]');
  if (hint) hint.hidden = false;
  render();
}
var svgs = document.querySelectorAll('svg.timeline[data-from-ns]');
for (var i = 0; i < svgs.length; i++) setup(svgs[i]);
})();`;
