// AttnLab trace player: steps through a decode trace, a tile trace or a training log that
// `attnlab view` (or a lesson report) inlined as JSON. Plain JavaScript, no library, no network.
// The data format is documented in docs/trace-player.md; numbers shown are the trace's own.
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  // The page's language, from the player root's data-lang (a report is in one language): tr(en, ja)
  // picks the phrase, as Language.en(_:ja:) does in the Swift code; the trace's own names stay.
  var lang = "en";
  function tr(en, ja) { return lang === "ja" ? ja : en; }

  // 1234567 → "1,234,567": the same text on every machine (toLocaleString depends on the locale).
  function fmt(n) {
    var s = String(Math.abs(n)), out = "";
    while (s.length > 3) { out = "," + s.slice(-3) + out; s = s.slice(0, -3); }
    return (n < 0 ? "-" : "") + s + out;
  }
  // 2 → "2nd", 11 → "11th", 21 → "21st".
  function ordinal(n) {
    var teen = n % 100 >= 11 && n % 100 <= 13;
    return n + (teen ? "th" : ["th", "st", "nd", "rd"][n % 10] || "th");
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // Colour g of the figures' palette (K/V head g, the g-th producer), as in every Cairo figure.
  var paletteSize = 8;
  function colour(i) { return "var(--c" + (i % paletteSize) + ")"; }
  // A definition list of named values; each value has data-k=NAME so tests (and people) find it.
  function values(parent, names) {
    var dl = el("dl", { "class": "ap-values" }), out = {};
    names.forEach(function (n) {
      dl.appendChild(el("dt", {}, n[1]));
      out[n[0]] = dl.appendChild(el("dd", { "data-k": n[0] }));
    });
    parent.appendChild(dl);
    return out;
  }

  // A titled part of a player's body; the body lays its parts out in columns when there is room.
  function section(body, title, wide) {
    var part = body.appendChild(el("div", { "class": "ap-section" + (wide ? " ap-wide" : "") }));
    part.appendChild(el("h3", {}, title));
    return part;
  }

  // A line chart named `label` of series ({xs, ys, colour}) over the x range [from, to], with a
  // marker at the current x.
  function lineChart(box, label, series, range, current, height) {
    box.textContent = "";
    var w = 360, h = height || 120, left = 8, right = 8, top = 8, bottom = 16;
    var s = svg("svg", { viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img", "aria-label": label });
    var xmin = range[0], xmax = range[1], ymin = Infinity, ymax = -Infinity;
    series.forEach(function (ser) { ser.ys.forEach(function (y) { if (isFinite(y)) { ymin = Math.min(ymin, y); ymax = Math.max(ymax, y); } }); });
    if (!isFinite(ymin)) { ymin = 0; ymax = 1; }
    if (series.some(function (ser) { return ser.fromZero; })) ymin = Math.min(ymin, 0);
    if (ymax === ymin) ymax = ymin + 1;
    function X(x) { return left + (xmax === xmin ? 0 : (x - xmin) / (xmax - xmin)) * (w - left - right); }
    function Y(y) { return h - bottom - (y - ymin) / (ymax - ymin) * (h - top - bottom); }
    s.appendChild(svg("line", { x1: left, x2: w - right, y1: h - bottom, y2: h - bottom, stroke: "var(--grid)" }));
    series.forEach(function (ser) {
      var pts = [];
      ser.ys.forEach(function (y, i) { if (isFinite(y)) pts.push(X(ser.xs[i]).toFixed(1) + "," + Y(y).toFixed(1)); });
      s.appendChild(svg("polyline", { points: pts.join(" "), fill: "none", stroke: ser.colour, "stroke-width": 2 }));
      // Dots too when there are few points: a series of one point has no line.
      if (pts.length <= 40) pts.forEach(function (p) { var xy = p.split(","); s.appendChild(svg("circle", { cx: xy[0], cy: xy[1], r: 2.5, fill: ser.colour })); });
    });
    // The current step: a dashed line in the text colour, which no series uses (in the light theme --hl is palette colour 1).
    if (current !== null) s.appendChild(svg("line", { x1: X(current), x2: X(current), y1: top, y2: h - bottom, stroke: "var(--fg)", "stroke-width": 1.5, "stroke-dasharray": "4 3" }));
    s.appendChild(svg("text", { x: left, y: h - 3, "class": "ap-muted" }, String(xmin)));
    s.appendChild(svg("text", { x: w - right, y: h - 3, "text-anchor": "end", "class": "ap-muted" }, String(xmax)));
    box.appendChild(s);
  }
  function legend(parent, items) {
    var p = el("p", { "class": "ap-meta" });
    items.forEach(function (it) {
      p.appendChild(el("span", { "class": "ap-swatch", style: "background:" + it[1] }));
      p.appendChild(document.createTextNode(it[0] + "  "));
    });
    parent.appendChild(p);
  }

  // ---- one player: a trace, its controls, its views ----
  function Player(trace, panel) {
    this.t = trace;
    this.k = 0;
    this.timer = null;
    this.panel = panel;
    panel.appendChild(el("h2", {}, trace.name));
    this.meta = panel.appendChild(el("p", { "class": "ap-meta" }));
    var c = panel.appendChild(el("div", { "class": "ap-controls" }));
    var self = this;
    this.prev = c.appendChild(el("button", { type: "button", "aria-label": tr("previous step", "前のステップ") }, "◀"));
    this.play = c.appendChild(el("button", { type: "button", "aria-label": tr("play", "再生"), "data-view": "play" }, tr("▶ play", "▶ 再生")));
    this.next = c.appendChild(el("button", { type: "button", "aria-label": tr("next step", "次のステップ") }, "▶"));
    this.slider = c.appendChild(el("input", { type: "range", min: 0, max: trace.kept.length - 1, value: 0, step: 1, "aria-label": tr("step", "ステップ") }));
    this.info = c.appendChild(el("span", { "class": "ap-stepinfo", "aria-live": "polite", "data-k": "step" }));
    this.prev.addEventListener("click", function () { self.go(self.k - 1); });
    this.next.addEventListener("click", function () { self.go(self.k + 1); });
    this.play.addEventListener("click", function () { self.toggle(); });
    this.slider.addEventListener("input", function () { self.go(Number(self.slider.value)); });
    if (trace.every > 1) {
      panel.appendChild(el("p", { "class": "ap-note", "data-k": "sampled" }, tr(
        "Sampled: this trace has " + fmt(trace.frames) + " steps; to stay under the page's size limit the player keeps every " +
        ordinal(trace.every) + " step and the last (" + fmt(trace.kept.length) +
        " steps). Totals shown are summed over every step. The full trace is the .jsonl file.",
        "間引き表示：このトレースは " + fmt(trace.frames) + " ステップあります。ページのサイズ上限に収めるため、" + trace.every +
        " ステップに 1 つと最後のステップ（計 " + fmt(trace.kept.length) + " ステップ）だけを残しています。表示する累計はすべてのステップの合計です。" +
        "完全な記録は .jsonl ファイルにあります。")));
    }
    this.body = panel.appendChild(el("div", { "class": "ap-body" }));
    ({ decode: DecodeView, tile: TileView, train: TrainView })[trace.kind].call(this);
    this.go(0);
  }
  Player.prototype.go = function (k) {
    k = Math.max(0, Math.min(this.t.kept.length - 1, k));
    this.k = k;
    this.slider.value = k;
    this.show(k);
  };
  Player.prototype.toggle = function () {
    var self = this;
    if (this.timer) { clearInterval(this.timer); this.timer = null; this.play.textContent = tr("▶ play", "▶ 再生"); return; }
    if (this.k === this.t.kept.length - 1) this.go(0);
    this.play.textContent = tr("❚❚ pause", "❚❚ 一時停止");
    this.timer = setInterval(function () {
      if (self.k >= self.t.kept.length - 1) { self.toggle(); return; }
      self.go(self.k + 1);
    }, 350);
  };
  Player.prototype.key = function (e) {
    if (e.key === "ArrowRight") this.go(this.k + 1);
    else if (e.key === "ArrowLeft") this.go(this.k - 1);
    else if (e.key === "Home") this.go(0);
    else if (e.key === "End") this.go(this.t.kept.length - 1);
    else if (e.key === " ") this.toggle();
    else return false;
    return true;
  };
  Player.prototype.stepText = function (label) {
    var f = this.t.kept[this.k];
    var shown = this.t.every > 1 ? tr(" (" + (this.k + 1) + "/" + this.t.kept.length + " shown)", "（表示 " + (this.k + 1) + " / " + this.t.kept.length + "）") : "";
    this.info.textContent = label + " " + f + tr(" of ", " / ") + (this.t.frames - 1) + shown;
  };

  // ---- decode: tokens, layer strip with CLA arrows, caches filling, attention, running totals ----
  function DecodeView() {
    var t = this.t, cfg = t.header.config, b = this.body;
    var producers = cfg.producers, L = cfg.layers;
    this.meta.textContent = (t.header.model || tr("seeded random weights", "ランダムな重み")) + " · " + (t.summary ? t.summary.layout : cfg.attention) +
      " · " + tr(L + " layers, " + cfg.q_heads + " query / " + cfg.kv_heads + " K/V heads × " + cfg.head_dim,
                 L + " 層、クエリヘッド " + cfg.q_heads + " 個、K/V ヘッド " + cfg.kv_heads + " 個 × " + cfg.head_dim) +
      tr(" · cache ", " · キャッシュ ") + t.header.cache_dtype + tr(" · detail ", " · 詳細度 ") + t.header.detail;
    this.tokens = section(b, tr("Text (current token marked)", "テキスト（現在のトークンに印）"), true).appendChild(el("div", { "class": "ap-tokens" }));
    // A newline token shows as ↵ (then breaks the line), so marking it is visible.
    this.tokSpans = t.tokens.map(function (s) { return this.tokens.appendChild(el("span", { "class": "ap-tok" }, s.replace(/\n/g, "↵\n"))); }, this);
    if (t.summary) this.tokens.appendChild(el("span", { "class": "ap-tok ap-gen ap-last" }, t.events[t.events.length - 1].filter(isStep)[0].next_text || ""));
    this.strip = section(b, tr("Layers: who wrote K/V (w), who read whose cache (r), bytes this step",
                           "層：K/V を書いた層（w）、どの層のキャッシュを読んだか（r）、このステップのバイト数"), true).appendChild(el("div"));
    this.caches = section(b, tr("Cache of each producer (rows = positions", "K/V を書く各層のキャッシュ（行 = 位置") +
      (t.header.detail === "full" ? tr(", K values as a heatmap)", "、K の値をヒートマップで）") : tr(")", "）"))).appendChild(el("div"));
    this.hasAttention = t.header.detail === "full";
    if (this.hasAttention) {
      var part = section(b, tr("Attention weights of layer ", "アテンションの重み、層 ")), h = part.firstChild;
      this.layerSelect = h.appendChild(el("select", { "aria-label": tr("layer", "層") }));
      for (var l = 0; l < L; l++) this.layerSelect.appendChild(el("option", { value: l }, String(l)));
      var self = this;
      this.layerSelect.addEventListener("change", function () { self.show(self.k); });
      this.attention = part.appendChild(el("div"));
    }
    var totals = section(b, tr("Running totals", "累計"));
    this.vals = values(totals, [["written", tr("bytes written so far", "書き込んだバイト数（累計）")], ["read", tr("bytes read so far", "読み込んだバイト数（累計）")],
                                ["stored", tr("bytes stored (cache)", "保持しているバイト数（キャッシュ）")], ["step_written", tr("written this step", "このステップの書き込み")],
                                ["step_read", tr("read this step", "このステップの読み込み")]]);
    this.chart = totals.appendChild(el("div"));
    legend(totals, [[tr("written", "書き込み"), colour(0)], [tr("read", "読み込み"), colour(1)], [tr("stored", "保持"), colour(2)]]);
    this.producerIndex = {};
    producers.forEach(function (p, i) { this.producerIndex[p] = i; }, this);
    this.show = decodeShow;
  }
  function isStep(e) { return e.type === "step"; }
  function decodeShow(k) {
    var t = this.t, f = t.kept[k], ev = t.events[k], cfg = t.header.config, self = this;
    var step = ev.filter(isStep)[0];
    this.stepText(tr("step", "ステップ"));
    this.tokSpans.forEach(function (s, i) {
      s.className = "ap-tok" + (i >= t.header.prompt_tokens.length ? " ap-gen" : "") + (i > f ? " ap-future" : "") + (i === f ? " ap-now" : "");
    });
    var last = this.tokens.querySelector(".ap-last");
    if (last) last.className = "ap-tok ap-gen ap-last" + (f === t.frames - 1 ? "" : " ap-future");
    // Layer strip: a box per layer (rows of at most 12), producers filled in their colour, an arrow from
    // each consumer to the producer whose cache it reads (CLA), bytes written and read this step.
    var L = cfg.layers, perRow = Math.min(L, 12), bw = 58, gap = 8, rowH = 104, W = perRow * (bw + gap), H = Math.ceil(L / perRow) * rowH;
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": tr("layers", "層"), "data-view": "layers" });
    var writes = {}, reads = {};
    ev.forEach(function (e) { if (e.type === "kv_write") writes[e.layer] = e; else if (e.type === "kv_read") reads[e.layer] = e; });
    function boxX(l) { return (l % perRow) * (bw + gap); }
    function boxY(l) { return Math.floor(l / perRow) * rowH + 36; }
    for (var l = 0; l < L; l++) {
      var src = cfg.kv_map[l], x = boxX(l), y = boxY(l), col = colour(this.producerIndex[src]);
      var own = src === l;
      s.appendChild(svg("rect", { x: x, y: y, width: bw, height: 28, rx: 3, fill: own ? col : "none", stroke: col, "stroke-width": 2 }));
      s.appendChild(svg("text", { x: x + bw / 2, y: y + 18, "text-anchor": "middle" }, "L" + l));
      var w = writes[l], r = reads[l];
      s.appendChild(svg("text", { x: x + bw / 2, y: y + 42, "text-anchor": "middle", "class": "ap-muted", "font-size": 9 }, "w " + fmt(w ? w.bytes : 0)));
      s.appendChild(svg("text", { x: x + bw / 2, y: y + 54, "text-anchor": "middle", "class": "ap-muted", "font-size": 9 }, r ? "r " + fmt(r.bytes) : ""));
      if (!own) {
        var x0 = x + bw / 2, x1 = boxX(src) + bw / 2, y1 = boxY(src);
        s.appendChild(svg("path", { d: "M" + x0 + "," + (y - 2) + " C" + x0 + "," + (y - 30) + " " + x1 + "," + (y1 - 30) + " " + x1 + "," + (y1 - 2), fill: "none", stroke: col, "stroke-width": 1.5 }));
        s.appendChild(svg("path", { d: "M" + (x1 - 4) + "," + (y1 - 9) + " L" + x1 + "," + (y1 - 2) + " L" + (x1 + 4) + "," + (y1 - 9), fill: "none", stroke: col, "stroke-width": 1.5 }));
      }
    }
    this.strip.textContent = "";
    this.strip.appendChild(s);
    // Caches: one column per producer, a row per position; a row is filled once written (a heatmap of
    // its K values when the trace has them), faded when no layer reads it any more (evicted).
    var held = {};
    for (var j = 0; j <= k; j++) t.events[j].forEach(function (e) {
      if (e.type === "kv_write") (held[e.layer] = held[e.layer] || {})[e.position] = e.k ? e.k : true;
      if (e.type === "kv_evict") e.positions.forEach(function (ps) { ps.forEach(function (p) { var h = held[e.source_layer]; if (h && h[p]) h[p] = { evicted: true, k: h[p] }; }); });
    });
    // Up to 6 caches per row, narrower when there are many producers (SmolLM2 has 30).
    var P = cfg.producers.length, perLine = Math.min(P, 6), cw = P > 3 ? 120 : 180, rowsMax = t.frames;
    var rh = Math.max(2, Math.min(8, Math.floor((P > 6 ? 90 : 220) / rowsMax))), blockH = rowsMax * rh + 24;
    var cs = svg("svg", { viewBox: "0 0 " + (perLine * (cw + 14)) + " " + (Math.ceil(P / perLine) * blockH), width: perLine * (cw + 14),
                          height: Math.ceil(P / perLine) * blockH, role: "img", "aria-label": tr("caches", "キャッシュ") });
    cfg.producers.forEach(function (p, i) {
      var x = (i % perLine) * (cw + 14), y0 = Math.floor(i / perLine) * blockH, col = colour(i), rows = held[p] || {};
      cs.appendChild(svg("text", { x: x, y: y0 + 11 }, "L" + p));
      cs.appendChild(svg("rect", { x: x, y: y0 + 16, width: cw, height: rowsMax * rh, fill: "none", stroke: "var(--grid)" }));
      Object.keys(rows).forEach(function (pos) {
        var v = rows[pos], y = y0 + 16 + Number(pos) * rh, faded = v && v.evicted;
        var kk = faded ? v.k : v;
        if (kk === true || !kk.length) {
          cs.appendChild(svg("rect", { x: x, y: y, width: cw, height: rh - (rh > 3 ? 1 : 0), fill: col, opacity: faded ? 0.2 : 0.8 }));
          return;
        }
        var flat = [].concat.apply([], kk), n = Math.min(flat.length, 64), m = 1e-9;
        for (var q = 0; q < n; q++) m = Math.max(m, Math.abs(flat[q]));
        for (q = 0; q < n; q++) {
          cs.appendChild(svg("rect", { x: x + q * cw / n, y: y, width: cw / n, height: rh - (rh > 3 ? 1 : 0),
            fill: flat[q] >= 0 ? col : "var(--fg)", opacity: ((faded ? 0.2 : 1) * (0.15 + 0.85 * Math.abs(flat[q]) / m)).toFixed(3) }));
        }
      });
    });
    this.caches.textContent = "";
    this.caches.appendChild(cs);
    if (this.hasAttention) this.showAttention(ev);
    var tot = t.totals[k];
    this.vals.written.textContent = fmt(tot[0]) + " B";
    this.vals.read.textContent = fmt(tot[1]) + " B";
    this.vals.stored.textContent = fmt(tot[2]) + " B";
    this.vals.step_written.textContent = fmt(step.bytes_written) + " B";
    this.vals.step_read.textContent = fmt(step.bytes_read) + " B";
    lineChart(this.chart, tr("bytes written, read and stored so far, by step", "ステップごとの書き込み・読み込み・保持バイト数の累計"), [0, 1, 2].map(function (c) { return { xs: t.kept, ys: t.totals.map(function (r) { return r[c]; }), colour: colour(c), fromZero: true }; }),
              [0, t.frames - 1], f);
  }
  Player.prototype.showAttention = function (ev) {
    var layer = Number(this.layerSelect.value), cfg = this.t.header.config, box = this.attention;
    box.textContent = "";
    var a = ev.filter(function (e) { return e.type === "attention" && e.layer === layer; })[0];
    var r = ev.filter(function (e) { return e.type === "kv_read" && e.layer === layer; })[0];
    if (!a) { box.appendChild(el("p", { "class": "ap-hint" }, tr("No attention event at this step.", "このステップにはアテンションの記録がありません。"))); return; }
    var heads = a.weights.length, T = a.weights[0].length, cell = Math.max(3, Math.min(16, Math.floor(520 / T))), top = 14, lw = 70;
    var width = Math.max(300, lw + T * cell);
    var s = svg("svg", { viewBox: "0 0 " + width + " " + (top + heads * (cell + 2) + 4), width: width, height: top + heads * (cell + 2) + 4, role: "img", "aria-label": tr("attention weights", "アテンションの重み"), "data-view": "attention" });
    s.appendChild(svg("text", { x: lw, y: 10, "class": "ap-muted" }, tr("positions →  (reads L" + a.source_layer + "'s cache)", "位置 →（L" + a.source_layer + " のキャッシュを読む）")));
    for (var h = 0; h < heads; h++) {
      var g = cfg.head_map[h], y = top + h * (cell + 2), positions = r && r.positions ? r.positions[g] : null;
      s.appendChild(svg("text", { x: 0, y: y + cell - 2 }, "q" + h + " → kv" + g));
      for (var p = 0; p < T; p++) {
        var wgt = a.weights[h][p];
        var rect = s.appendChild(svg("rect", { x: lw + p * cell, y: y, width: cell - 1, height: cell, fill: colour(g), opacity: (0.08 + 0.92 * wgt).toFixed(3) }));
        rect.appendChild(svg("title", {}, tr("head ", "クエリヘッド ") + h + tr(", position ", "、位置 ") + (positions ? positions[p] : p) + tr(": ", "：") + wgt));
      }
    }
    box.appendChild(s);
  };

  // ---- tile: grid with visit order, SRAM, HBM per tensor, the watched row's m and l ----
  function TileView() {
    var t = this.t, cfg = t.header.config, b = this.body;
    var source = { "default": tr("the published rule", "論文の規則"), "given": tr("given", "指定"), "fit": tr("fitted to M", "M に収まるよう選択") }[cfg.block_source] || cfg.block_source;
    this.meta.textContent = cfg.algo + " · N = " + cfg.n + ", d = " + cfg.d + " · Br × Bc = " + cfg.block_rows + " × " + cfg.block_cols +
      tr(" (", "（") + source + tr(") · SRAM M = ", "） · SRAM M = ") + fmt(cfg.sram_elements) + tr(" elements · ", " 要素 · ") +
      tr(cfg.q_heads + " query / " + cfg.kv_heads + " K/V heads", "クエリヘッド " + cfg.q_heads + " 個、K/V ヘッド " + cfg.kv_heads + " 個") +
      (cfg.causal ? tr(" · causal", " · 因果マスク") : "") + (cfg.backward ? tr(" · forward + backward", " · 順伝播 + 逆伝播") : "");
    this.phaseLine = b.appendChild(el("p", { "class": "ap-wide" }));
    this.grid = section(b, tr("Blocks of this phase (visit order; current outlined, masked hatched, skipped grey)",
                             "このフェーズのブロック（数字は訪問順、現在のブロックは枠囲み、マスクしたブロックは斜線、省いたブロックは灰色）")).appendChild(el("div"));
    var sram = section(b, tr("SRAM (elements)", "SRAM（要素数）"));
    var inUse = tr("in use after the step", "ステップ後の使用量"), peak = tr("peak during the step", "ステップ中の最大使用量"), capacity = tr("capacity M", "容量 M");
    this.sram = sram.appendChild(el("div"));
    legend(sram, [[inUse, colour(0)], [peak, colour(1)], [capacity, "var(--fg)"]]);
    this.vals = values(sram, [["sram", inUse], ["sram_peak", peak], ["capacity", capacity]]);
    this.vals.capacity.textContent = fmt(cfg.sram_elements);
    this.moved = sram.appendChild(el("p", { "class": "ap-meta", "data-k": "moved" }));
    this.over = sram.appendChild(el("p", { "class": "ap-warn", "data-k": "overshoot" }));
    this.hbm = section(b, tr("HBM traffic so far (elements)", "HBM 転送量の累計（要素数）")).appendChild(el("div"));
    if (t.watch.length) {
      var watch = section(b, tr("Watched row " + cfg.watch_row + ": running max m, sum l, rescale e^(m_old − m_new)",
                                "注目する行 " + cfg.watch_row + "：これまでの最大値 m、和 l、再スケール係数 e^(m_old − m_new)"));
      this.wvals = values(watch, [["watch_step", tr("last update at step", "最後に更新したステップ")], ["m", "m"], ["l", "l"], ["rescale", tr("rescale", "再スケール係数")],
                                  ["true_max", tr("true max", "真の最大値")], ["true_sum", tr("true sum", "真の和")]]);
      this.wvals.true_max.textContent = String(t.header.watch_true_max);
      this.wvals.true_sum.textContent = String(t.header.watch_true_sum);
      this.wchart = watch.appendChild(el("div"));
      legend(watch, [["m", colour(0)], ["l", colour(1)]]);
    }
    this.show = tileShow;
  }
  function tileShow(k) {
    var t = this.t, f = t.kept[k], e = t.events[k][0], cfg = t.header.config, V = t.visits;
    this.stepText(tr("step", "ステップ"));
    this.phaseLine.textContent = tr("phase ", "フェーズ ") + e.phase + tr(" · K/V head ", " · K/V ヘッド ") + e.kv_head + (e.i !== null ? " · i = " + e.i : "") + (e.j !== null ? " · j = " + e.j : "") +
      tr(" · rows ", " · 行 ") + e.rows[0] + "–" + (e.rows[1] - 1) + (e.cols[1] > e.cols[0] ? tr(" · cols ", " · 列 ") + e.cols[0] + "–" + (e.cols[1] - 1) : "") +
      (e.masked ? tr(" · masked", " · マスクあり") : "");
    // The grid of the current phase and K/V head, from every step (so sampling never leaves holes).
    var phase = V[f * 5 + 4], head = V[f * 5], maxI = 0, maxJ = -1, cells = {}, count = 0;
    for (var s = 0; s * 5 < V.length; s++) {
      if (V[s * 5 + 4] !== phase || V[s * 5] !== head) continue;
      var i = Math.max(0, V[s * 5 + 1]), j = V[s * 5 + 2];
      maxI = Math.max(maxI, i); maxJ = Math.max(maxJ, j);
      var key = i + "," + j;
      if (!(key in cells)) cells[key] = { step: s, masked: V[s * 5 + 3] === 1, order: ++count };
      if (s <= f) cells[key].done = s;
    }
    // A canvas, not SVG: a long run has thousands of blocks (FA1 at N = 2048, M = 4096: 128 × 128).
    var rows = maxI + 1, cols = Math.max(1, maxJ + 1), size = Math.max(2, Math.min(26, Math.floor(440 / Math.max(rows, cols))));
    var left = 22, top = 16, style = getComputedStyle(this.panel), width = Math.max(170, left + cols * size + 4);
    function v(name) { return style.getPropertyValue(name).trim(); }
    var canvas = el("canvas", { width: width, height: top + rows * size + 4, role: "img",
      "aria-label": tr("tile grid: " + count + " blocks in this phase, current block i = ", "タイルの格子：このフェーズのブロック " + count + " 個、現在のブロック i = ") +
        V[f * 5 + 1] + ", j = " + V[f * 5 + 2] });
    var g = canvas.getContext("2d");
    g.font = "10px DejaVu Sans, sans-serif";
    g.fillStyle = v("--muted");
    g.fillText(maxJ < 0 ? tr("row chunks ↓", "行ブロック ↓") : tr("j (key blocks) →", "j（K/V ブロック）→"), left, 10);
    g.fillText("i ↓", 0, top + 10);
    // The current block is outlined in the text colour: in the light theme --hl is palette colour 1, K/V head 1's.
    var done = v("--c" + (head % paletteSize)), outline = v("--fg"), grid = v("--grid"), muted = v("--muted"), cur = null;
    for (var a = 0; a < rows; a++) for (var c = 0; c < cols; c++) {
      var cell = cells[a + "," + (maxJ < 0 ? -1 : c)], x = left + c * size, y = top + a * size, inner = size > 3 ? size - 1 : size;
      if (!cell) { g.fillStyle = grid; g.fillRect(x, y, inner, inner); continue; }
      if (cell.done !== undefined) { g.fillStyle = done; g.fillRect(x, y, inner, inner); }
      else if (size > 3) { g.strokeStyle = grid; g.strokeRect(x + 0.5, y + 0.5, inner - 1, inner - 1); }
      if (cell.masked) {
        // Hatched: the block straddles the causal diagonal and was masked.
        g.strokeStyle = muted; g.beginPath();
        for (var h = -inner; h < inner; h += 4) { g.moveTo(x + Math.max(0, h), y + Math.max(0, -h)); g.lineTo(x + Math.min(inner, inner + h), y + Math.min(inner, inner - h)); }
        g.stroke();
      }
      if (size >= 18 && cell.done !== undefined) { g.fillStyle = v("--bg"); g.textAlign = "center"; g.fillText(String(cell.order), x + size / 2, y + size / 2 + 4); g.textAlign = "start"; }
      if (cell.step === f) cur = [x, y];
    }
    if (cur) { g.strokeStyle = outline; g.lineWidth = Math.max(2, Math.min(3, size / 4)); g.strokeRect(cur[0] - 1, cur[1] - 1, size + 1, size + 1); }
    this.grid.textContent = "";
    this.grid.appendChild(canvas);
    // SRAM: in use after the step and the peak, against the capacity line.
    var M = cfg.sram_elements, top = Math.max(M, e.sram_peak) * 1.1, w = 360;
    var sb = svg("svg", { viewBox: "0 0 " + w + " 34", width: w, height: 34, role: "img", "aria-label": "SRAM" });
    sb.appendChild(svg("rect", { x: 0, y: 4, width: w * e.sram_peak / top, height: 18, fill: colour(1), opacity: 0.45 }));
    sb.appendChild(svg("rect", { x: 0, y: 4, width: w * e.sram / top, height: 18, fill: colour(0) }));
    sb.appendChild(svg("line", { x1: w * M / top, x2: w * M / top, y1: 0, y2: 26, stroke: "var(--fg)", "stroke-width": 2 }));
    sb.appendChild(svg("text", { x: Math.min(w * M / top, w - 4), y: 33, "text-anchor": "end", "class": "ap-muted" }, "M"));
    this.sram.textContent = "";
    this.sram.appendChild(sb);
    this.vals.sram.textContent = fmt(e.sram);
    this.vals.sram_peak.textContent = fmt(e.sram_peak);
    function list(ts) { return ts.length ? ts.map(function (x) { return x.block + " (" + fmt(x.elements) + ")"; }).join(" ") : tr("nothing", "なし"); }
    this.moved.textContent = tr("loaded: ", "HBM から読み出し：") + list(e.loads) + tr(" · stored: ", " · HBM へ書き込み：") + list(e.stores);
    var why = { "default": tr("the published block rule's working set (Q, K, V, O blocks and the Br × Bc scores) exceeds M",
                              "論文のブロック規則での作業領域（Q、K、V、O のブロックと Br × Bc のスコア）が M を超える"),
                "given": tr("the --br/--bc given are too big for M", "指定した --br/--bc が M に対して大きすぎる"),
                "fit": tr("the blocks chosen to fit still overshoot M", "収まるよう選んだブロックでもなお M を超える") }[cfg.block_source] ||
              tr("the blocks do not fit M", "ブロックが M に収まらない");
    this.over.textContent = e.sram_peak > M ? tr("Over capacity by " + fmt(e.sram_peak - M) + " elements: " + why +
      ". The simulator counts the traffic as if it fitted; the summary says exceeds_sram.",
      "容量を " + fmt(e.sram_peak - M) + " 要素超過：" + why + "。シミュレータは収まったものとして転送量を数え、summary に exceeds_sram と記録します。") : "";
    // HBM per tensor so far (summed over every step by attnlab view), and the trace's own totals.
    var tot = t.totals[k], n = t.tensors.length, tb = el("table");
    var hr = tb.appendChild(el("tr"));
    [tr("tensor", "テンソル"), tr("reads", "読み出し"), tr("writes", "書き込み")].forEach(function (h) { hr.appendChild(el("th", {}, h)); });
    t.tensors.forEach(function (name, q) {
      var tr = tb.appendChild(el("tr"));
      tr.appendChild(el("td", {}, name));
      tr.appendChild(el("td", { "data-k": "reads-" + name }, fmt(tot[q])));
      tr.appendChild(el("td", { "data-k": "writes-" + name }, fmt(tot[n + q])));
    });
    var all = tb.appendChild(el("tr"));
    all.appendChild(el("td", {}, tr("all", "合計")));
    all.appendChild(el("td", { "data-k": "hbm_reads" }, fmt(e.hbm_reads)));
    all.appendChild(el("td", { "data-k": "hbm_writes" }, fmt(e.hbm_writes)));
    this.hbm.textContent = "";
    this.hbm.appendChild(tb);
    if (t.watch.length) {
      var cur = null;
      t.watch.forEach(function (wv) { if (wv[0] <= f) cur = wv; });
      this.wvals.watch_step.textContent = cur ? String(cur[0]) : tr("not yet", "未更新");
      this.wvals.m.textContent = cur ? String(cur[1]) : "−∞";
      this.wvals.l.textContent = cur ? String(cur[2]) : "0";
      this.wvals.rescale.textContent = cur ? String(cur[3]) : "";
      var xs = t.watch.map(function (wv) { return wv[0]; });
      lineChart(this.wchart, tr("the watched row's m and l, by step", "注目する行の m と l の推移"), [{ ys: t.watch.map(function (wv) { return wv[1]; }), xs: xs, colour: colour(0) },
                              { ys: t.watch.map(function (wv) { return wv[2]; }), xs: xs, colour: colour(1) }],
                [Math.min(xs[0], 0), Math.max(xs[xs.length - 1], t.frames - 1)], f, 100);
    }
  }

  // ---- training log: loss curve, the step's values, the last validation ----
  function TrainView() {
    var t = this.t, b = this.body;
    this.meta.textContent = tr("training log · " + fmt(t.frames) + " steps", "学習ログ · " + fmt(t.frames) + " ステップ");
    var part = section(b, tr("Training step", "学習のステップ"));
    this.vals = values(part, [["train_step", tr("step", "ステップ")], ["loss", tr("loss", "損失")], ["lr", tr("learning rate", "学習率")],
                              ["grad_norm", tr("gradient norm", "勾配ノルム")], ["tokens", tr("tokens seen", "学習したトークン数")],
                              ["val_loss", tr("last validation loss", "直近の検証損失")]]);
    var curve = section(b, tr("Loss", "損失"));
    this.chart = curve.appendChild(el("div"));
    legend(curve, [[tr("training loss", "学習損失"), colour(0)], [tr("validation loss", "検証損失"), colour(1)]]);
    this.validations = t.preamble.concat([].concat.apply([], t.events.map(function (ev) { return ev.slice(1); })));
    this.show = trainShow;
  }
  function trainShow(k) {
    var t = this.t, r = t.events[k][0];
    this.stepText(tr("record", "記録"));
    this.vals.train_step.textContent = String(r.step);
    this.vals.loss.textContent = String(r.loss);
    this.vals.lr.textContent = String(r.lr);
    this.vals.grad_norm.textContent = String(r.grad_norm);
    this.vals.tokens.textContent = fmt(r.tokens);
    var v = null;
    this.validations.forEach(function (x) { if (x.step <= r.step) v = x; });
    this.vals.val_loss.textContent = v ? String(v.val_loss) + tr(" (step " + v.step + ")", "（ステップ " + v.step + "）") : tr("none yet", "まだない");
    var steps = t.loss.map(function (p) { return p[0]; });
    lineChart(this.chart, tr("training and validation loss, by step", "ステップごとの学習損失と検証損失"), [{ xs: steps, ys: t.loss.map(function (p) { return p[1]; }), colour: colour(0) },
                           { ys: this.validations.map(function (x) { return x.val_loss; }), xs: this.validations.map(function (x) { return x.step; }), colour: colour(1) }],
              [Math.min(steps[0], 0), steps[steps.length - 1]], r.step, 140);
  }

  // ---- a group: one player per trace, side by side, and a shared slider when there are several ----
  function Group(root) {
    var traces = root.getAttribute("data-traces").split(" ").map(function (id) {
      return JSON.parse(document.getElementById(id).textContent);
    });
    root.textContent = "";
    var bar = root.appendChild(el("div", { "class": "ap-controls" }));
    var themeButton = bar.appendChild(el("button", { type: "button", "class": "ap-theme", "aria-label": tr("switch light/dark theme", "ライト/ダークのテーマを切り替える") }, tr("◐ theme", "◐ テーマ")));
    themeButton.addEventListener("click", function () {
      var target = document.body.classList.contains("attnlab-page") ? document.body : root;
      var dark = target.getAttribute("data-theme") === "dark" ||
        (!target.hasAttribute("data-theme") && window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
      target.setAttribute("data-theme", dark ? "light" : "dark");
      players.forEach(function (p) { p.show(p.k); });
    });
    var players = [], shared = null;
    if (traces.length > 1) {
      bar.appendChild(el("span", {}, tr("all runs, same fraction of each:", "全実行を同じ割合の位置に：")));
      var longest = Math.max.apply(null, traces.map(function (t) { return t.kept.length; }));
      shared = bar.appendChild(el("input", { type: "range", min: 0, max: longest - 1, value: 0, "aria-label": tr("all runs", "全実行"), "data-k": "shared" }));
      shared.addEventListener("input", function () { sync(Number(shared.value)); });
    }
    bar.appendChild(el("span", { "class": "ap-hint" }, tr("Keys: ← → step, space play/pause, Home/End; click a panel to step it alone.",
      "キー：← → で前後のステップ、スペースで再生/一時停止、Home/End で最初/最後。パネルをクリックすると、そのパネルだけを動かせます。")));
    var panels = root.appendChild(el("div", { "class": "ap-panels" }));
    traces.forEach(function (t) {
      var panel = panels.appendChild(el("section", { "class": "ap-panel", tabindex: traces.length > 1 ? 0 : -1, "data-kind": t.kind }));
      var p = Object.create(Player.prototype);
      Player.call(p, t, panel);
      players.push(p);
      panel.addEventListener("keydown", function (e) {
        if (traces.length === 1) return;
        if (p.key(e)) { e.preventDefault(); e.stopPropagation(); }
      });
    });
    function sync(k) {
      var longest = Number(shared.max);
      players.forEach(function (p) { p.go(Math.round(k * (p.t.kept.length - 1) / Math.max(1, longest))); });
    }
    root.addEventListener("keydown", function (e) {
      if (e.target.tagName === "SELECT") return;
      var handled;
      if (shared) {
        var k = Number(shared.value), max = Number(shared.max);
        if (e.key === "ArrowRight") k++; else if (e.key === "ArrowLeft") k--; else if (e.key === "Home") k = 0; else if (e.key === "End") k = max;
        else if (e.key === " ") { players.forEach(function (p) { p.toggle(); }); k = null; }
        else return;
        if (k !== null) { shared.value = Math.max(0, Math.min(max, k)); sync(Number(shared.value)); }
        handled = true;
      } else handled = players[0].key(e);
      if (handled) e.preventDefault();
    });
  }

  function boot() {
    var roots = document.querySelectorAll(".attnlab-player[data-traces]");
    if (roots.length) lang = roots[0].getAttribute("data-lang") === "ja" ? "ja" : "en";
    if (roots.length) paletteSize = parseInt(getComputedStyle(roots[0]).getPropertyValue("--palette-size"), 10) || paletteSize;
    for (var i = 0; i < roots.length; i++) {
      try { Group(roots[i]); } catch (err) {
        roots[i].textContent = "";
        roots[i].appendChild(el("p", { "class": "ap-error" }, tr("The player could not read its data: ", "プレイヤーがデータを読めませんでした：") + err.message));
        throw err;
      }
    }
    // A page of its own (attnlab view) takes the keys at once; a report waits for a click.
    if (document.body.classList.contains("attnlab-page") && roots.length) roots[0].focus();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
})();
