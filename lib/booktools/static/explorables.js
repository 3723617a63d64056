/* The book's explorables: figures the reader moves, computed in the page.
 *
 * Every <div class="explorable" data-explorable="KIND" data-config="{...}"> that the Sphinx
 * directive `explorable` (booktools.explorables) writes is built here, once the page has
 * loaded: sliders with labels (keyboard: arrows, Page Up/Down, Home/End), readouts of the
 * numbers, and plotly.js plots. The arithmetic is explorable_math.js (window.MetaoptMath); the
 * configuration (the document's values, the learned φ, the colours) comes from metaopt when
 * the book is built. Without JavaScript the div stays hidden and the page's static figure is
 * all there is; in print the explorable is hidden again (explorables.css).
 */
(function () {
  "use strict";
  const M = window.MetaoptMath;

  // --- small helpers ---------------------------------------------------------------------

  /* The page's language: the words of the explorables in the edition's language, from the
   * configuration (booktools.explorables.strings: the words of every call of t and tf below,
   * translated in the edition's interface catalog); English where a word has no translation. */
  let STRINGS = {};

  function t(english) {
    return STRINGS[english] || english;
  }

  /** t() of a sentence with {name} placeholders, then the values put in. */
  function tf(english, values) {
    return t(english).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  }

  function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  /** A number as the readouts show it: 6 significant digits (a power of ten from a million up),
   * a true minus sign. */
  function fmt(x, digits = 6) {
    if (!Number.isFinite(x)) return t("overflow");
    const rounded = Number(x.toPrecision(digits));
    const text = Math.abs(rounded) >= 1e6
      ? x.toExponential(digits - 1).replace(/\.?0+e/, "e").replace("e+", "e")
      : String(rounded);
    return text.replace(/-/g, "\u2212");
  }

  function fmtVector(v, digits = 6) {
    return "(" + v.map((x) => fmt(x, digits)).join(", ") + ")";
  }

  function fmtComplex(z) {
    if (z.im === 0) return fmt(z.re);
    return fmt(z.re) + (z.im < 0 ? " \u2212 " : " + ") + fmt(Math.abs(z.im)) + "i";
  }

  function fmtIntervals(intervals) {
    if (intervals.length === 0) return t("none in view");
    return intervals
      .map((i) => "(" + fmt(i.low) + ", " + (i.open ? fmt(i.high) + "+" : fmt(i.high)) + ")")
      .join(" \u222a ");
  }

  function linspace(a, b, n) {
    return Array.from({ length: n }, (_, k) => a + ((b - a) * k) / (n - 1));
  }

  let counter = 0;

  /** A labelled range input with its value beside it; returns the input. */
  function slider(parent, { name, label, min, max, step, value, digits = 4 }) {
    const id = `ex-${++counter}-${name}`;
    const input = el("input", {
      type: "range", id, min, max, step, value, "data-control": name,
    });
    const shown = el("output", { for: id, "data-shows": name });
    const sync = () => {
      shown.textContent = fmt(Number(input.value), digits);
      input.setAttribute("aria-valuetext", shown.textContent);
    };
    input.addEventListener("input", sync);
    sync();
    parent.append(el("div", { class: "ex-control" }, [el("label", { for: id, text: label }), input, shown]));
    input.sync = sync;
    return input;
  }

  /** A labelled readout; returns the element whose text is the value. `live`: a screen reader
   * announces its changes (one per explorable, so that a slider's move is one short message). */
  function readout(parent, quantity, label, live = false) {
    const value = el("span", { class: "ex-value", "data-quantity": quantity });
    if (live) value.setAttribute("aria-live", "polite");
    parent.append(el("div", { class: "ex-readout" }, [el("span", { class: "ex-label", text: label }), value]));
    return value;
  }

  function plotBox(parent, label) {
    const box = el("div", { class: "ex-plot", role: "img", "aria-label": label });
    parent.append(box);
    return box;
  }

  function setValue(input, value) {
    input.value = String(value);
    input.sync();
  }

  const PLOT_CONFIG = { displaylogo: false, responsive: true, displayModeBar: false };
  const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12 };

  function layout(extra) {
    return Object.assign({
      font: FONT,
      margin: { l: 52, r: 12, t: 28, b: 84 },
      height: 330,
      paper_bgcolor: "white",
      plot_bgcolor: "white",
      legend: { orientation: "h", x: 0, y: -0.3, yanchor: "top" },
    }, extra);
  }

  function skeleton(root, title) {
    const titleId = `ex-${++counter}-title`;
    root.append(el("p", { class: "ex-title", id: titleId, text: title }));
    const controls = el("div", { class: "ex-controls", role: "group", "aria-labelledby": titleId });
    const readouts = el("div", { class: "ex-readouts" });
    const plots = el("div", { class: "ex-plots" });
    root.append(controls, readouts, plots);
    return { controls, readouts, plots };
  }

  function resetButton(parent, reset, text = t("Reset to the document's values")) {
    const button = el("button", { type: "button", class: "ex-reset", text });
    button.addEventListener("click", reset);
    parent.append(button);
  }

  // --- the worked example: chapters 2 and 3 --------------------------------------------------

  function workedExample(root, c) {
    const full = c.parts === "full";
    const { controls, readouts, plots } = skeleton(root, full
      ? t("Explore: move φ, θ₀ and the number of steps, then the meta step size η")
      : t("Explore: move φ, θ₀ and the number of steps"));
    const ctl = {
      phi1: slider(controls, { name: "phi1", label: "φ₁", min: -1, max: 1, step: 0.01, value: c.phi[0] }),
      phi2: slider(controls, { name: "phi2", label: "φ₂", min: -1, max: 1, step: 0.01, value: c.phi[1] }),
      phi3: slider(controls, { name: "phi3", label: "φ₃", min: -2, max: 2, step: 0.01, value: c.phi[2] }),
      theta0: slider(controls, { name: "theta0", label: "θ₀", min: -10, max: 20, step: 0.5, value: c.theta0 }),
      steps: slider(controls, { name: "steps", label: t("steps T"), min: 1, max: 10, step: 1, value: c.steps }),
    };
    let etaTop = c.etaRanges[0][0];
    if (full) {
      const id = `ex-${++counter}-range`;
      const range = el("select", { id, "data-control": "eta-range" },
        c.etaRanges.map(([top], k) => el("option", { value: String(k), text: tf("0 to {top}", { top: fmt(top) }) })));
      controls.append(el("div", { class: "ex-control" }, [el("label", { for: id, text: t("range of η") }), range]));
      ctl.eta = slider(controls, { name: "eta", label: "η", min: 0, max: etaTop, step: c.etaRanges[0][1], value: c.eta, digits: 6 });
      ctl.range = range;
      range.addEventListener("input", () => {
        const [top, step] = c.etaRanges[Number(range.value)];
        etaTop = top;
        ctl.eta.max = String(top);
        ctl.eta.step = String(step);
        ctl.eta.sync();
      });
    }
    resetButton(controls, () => {
      setValue(ctl.phi1, c.phi[0]);
      setValue(ctl.phi2, c.phi[1]);
      setValue(ctl.phi3, c.phi[2]);
      setValue(ctl.theta0, c.theta0);
      setValue(ctl.steps, c.steps);
      if (full) {
        ctl.range.value = "0";
        ctl.range.dispatchEvent(new Event("input"));
        setValue(ctl.eta, c.eta);
      }
      update();
    });
    const out = {
      theta: readout(readouts, "theta", t("θ₀ … θ_T")),
      loss: readout(readouts, "meta-loss", t("meta-loss L(θ_T)"), true),
    };
    if (full) {
      Object.assign(out, {
        grad: readout(readouts, "meta-gradient", t("true meta-gradient ∂L/∂φ")),
        phiTrue: readout(readouts, "phi-true", t("φ − η·(true gradient)")),
        lossTrue: readout(readouts, "loss-true", t("meta-loss after it")),
        phiAssumed: readout(readouts, "phi-assumed", tf("φ − η·{d} (assumed)", { d: fmtVector(c.assumed) })),
        lossAssumed: readout(readouts, "loss-assumed", t("meta-loss after it")),
        helpTrue: readout(readouts, "helps-true", t("η that help, true gradient")),
        helpAssumed: readout(readouts, "helps-assumed", t("η that help, assumed gradient")),
      });
    }
    if (full) {
      readouts.append(el("p", { class: "ex-note", text: tf("The intervals of η that help are found in the page: "
        + "the meta-loss is computed at {samples} equal steps of η across the range shown, and every change "
        + "of sign is refined by bisection. An interval narrower than one step can be missed; \"+\" marks an "
        + "interval that goes on past the range.", { samples: c.samples }) }));
    }
    const trajectory = plotBox(plots, t("The inner loop's trajectory θ_t against the step t"));
    const along = full ? plotBox(plots, t("The meta-loss after one meta-update, against η, along both directions")) : null;

    function update() {
      const phi = [Number(ctl.phi1.value), Number(ctl.phi2.value), Number(ctl.phi3.value)];
      const theta0 = Number(ctl.theta0.value);
      const steps = Number(ctl.steps.value);
      const run = M.metaGradient(phi, theta0, c.thetaStar, steps);
      const theta = M.unroll(phi, theta0, c.thetaStar, steps).theta;
      out.theta.textContent = theta.map((x) => fmt(x)).join(", ");
      out.loss.textContent = fmt(run.loss);
      const ticks = theta.map((_, k) => k);
      const traces = [{ x: ticks, y: theta, name: "φ", mode: "lines+markers", line: { color: c.colors.theta } }];
      const shapes = [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: c.thetaStar, y1: c.thetaStar,
        line: { color: "#444", dash: "dot", width: 1 } }];
      if (full) {
        const eta = Number(ctl.eta.value);
        const phiTrue = M.metaStep(phi, run.grad, eta);
        const phiAssumed = M.metaStep(phi, c.assumed, eta);
        const lossTrue = M.metaLoss(phiTrue, theta0, c.thetaStar, steps);
        const lossAssumed = M.metaLoss(phiAssumed, theta0, c.thetaStar, steps);
        out.grad.textContent = fmtVector(run.grad);
        out.phiTrue.textContent = fmtVector(phiTrue);
        out.lossTrue.textContent = fmt(lossTrue);
        out.phiAssumed.textContent = fmtVector(phiAssumed);
        out.lossAssumed.textContent = fmt(lossAssumed);
        const helpTrue = M.helpfulIntervals(phi, run.grad, theta0, c.thetaStar, steps, etaTop, c.samples);
        const helpAssumed = M.helpfulIntervals(phi, c.assumed, theta0, c.thetaStar, steps, etaTop, c.samples);
        out.helpTrue.textContent = fmtIntervals(helpTrue);
        out.helpAssumed.textContent = fmtIntervals(helpAssumed);
        for (const [p, name, color, dash] of [[phiTrue, t("after the true step"), c.colors.true, "solid"],
          [phiAssumed, t("after the assumed step"), c.colors.assumed, "dash"]]) {
          traces.push({ x: ticks, y: M.unroll(p, theta0, c.thetaStar, steps).theta, name, mode: "lines+markers",
            line: { color, dash } });
        }
        drawAlong(phi, run, theta0, steps, eta, helpTrue, helpAssumed);
      }
      Plotly.react(trajectory, traces, layout({
        title: { text: t("inner loop"), font: FONT },
        xaxis: { title: { text: t("step t") }, dtick: 1 },
        yaxis: { title: { text: "θ_t" } },
        shapes,
        showlegend: full,
      }), PLOT_CONFIG);
    }

    function drawAlong(phi, run, theta0, steps, eta, helpTrue, helpAssumed) {
      const etas = linspace(0, etaTop, 601);
      const start = run.loss;
      const curve = (d) => etas.map((e) => M.metaLoss(M.metaStep(phi, d, e), theta0, c.thetaStar, steps));
      const top = start > 0 ? 3 * start : 1;
      const band = (i, color) => ({ type: "rect", xref: "x", yref: "paper", x0: i.low, x1: i.high, y0: 0, y1: 1,
        fillcolor: color, opacity: 0.15, line: { width: 0 }, layer: "below" });
      const vertical = (x, dash, color) => ({ type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
        line: { color, dash, width: 1.5 } });
      const shapes = [
        ...helpTrue.map((i) => band(i, c.colors.true)),
        ...helpAssumed.map((i) => band(i, c.colors.assumed)),
        { type: "line", xref: "paper", x0: 0, x1: 1, y0: start, y1: start, line: { color: "#444", dash: "dot", width: 1 } },
        vertical(c.eta, "dash", "#444"),
        vertical(eta, "solid", "#000"),
      ];
      Plotly.react(along, [
        { x: etas, y: curve(run.grad), name: t("true gradient"), mode: "lines", line: { color: c.colors.true } },
        { x: etas, y: curve(c.assumed), name: t("assumed gradient"), mode: "lines", line: { color: c.colors.assumed } },
      ], layout({
        title: { text: t("meta-loss after φ − η d (dashed: the document's η)"), font: FONT },
        xaxis: { title: { text: "η" }, range: [0, etaTop] },
        yaxis: { title: { text: t("meta-loss") }, range: [0, top] },
        shapes,
      }), PLOT_CONFIG);
    }

    for (const input of Object.values(ctl)) input.addEventListener("input", update);
    update();
  }

  // --- the convergence map: chapter 5 --------------------------------------------------------

  function convergenceMap(root, c) {
    const { controls, readouts, plots } = skeleton(root,
      t("Explore: drag the point (or use the sliders) in the plane of step size α and momentum β"));
    const start = M.momentum(c.phi);
    const ctl = {
      alpha: slider(controls, { name: "alpha", label: t("step size α"), min: -0.2, max: 2.2, step: 0.001, value: start.alpha }),
      beta: slider(controls, { name: "beta", label: t("momentum β"), min: -1.1, max: 1.1, step: 0.001, value: start.beta }),
      steps: slider(controls, { name: "steps", label: t("steps shown"), min: 2, max: 40, step: 1, value: 20 }),
    };
    resetButton(controls, () => {
      setValue(ctl.alpha, start.alpha);
      setValue(ctl.beta, start.beta);
      setValue(ctl.steps, 20);
      update();
    });
    const out = {
      phi: readout(readouts, "phi", t("φ = (α, β, −1)")),
      eigen: readout(readouts, "eigenvalues", t("eigenvalues λ")),
      rho: readout(readouts, "rho", t("spectral radius ρ"), true),
      verdict: readout(readouts, "converges", t("the inner loop")),
      loss: readout(readouts, "meta-loss", tf("two-step meta-loss (θ₀ = {theta0})", { theta0: fmt(c.theta0) })),
    };
    const map = plotBox(plots, t("The convergence map: spectral radius over step size and momentum, with a movable point"));
    const trajectory = plotBox(plots, t("The inner loop's trajectory θ_t for the chosen point"));

    const alphas = linspace(-0.2, 2.2, 241);
    const betas = linspace(-1.1, 1.1, 221);
    const rho = betas.map((b) => alphas.map((a) => {
      const r = M.spectralRadius(a, b);
      return r < 1 ? r : null; // diverging: left blank, the grey background shows
    }));
    const curveAlphas = linspace(0.12, 2.2, 300);
    const marker = (phi, name, color, symbol) => {
      const m = M.momentum(phi);
      return { x: [m.alpha], y: [m.beta], name, mode: "markers", marker: { color, symbol, size: 11,
        line: { color: "white", width: 1 } } };
    };
    const fixed = [
      { z: rho, x: alphas, y: betas, type: "heatmap", colorscale: "Viridis", zmin: 0, zmax: 1,
        colorbar: { title: { text: "ρ" }, thickness: 10 }, hovertemplate: "α %{x:.3f}, β %{y:.3f}: ρ %{z:.3f}<extra></extra>",
        showlegend: false },
      { x: [0, 0, 2, 0], y: [-1, 1, 1, -1], mode: "lines", name: "ρ = 1", line: { color: "black", width: 1.5 }, hoverinfo: "skip" },
      { x: curveAlphas, y: curveAlphas.map(M.zeroLossBeta), mode: "lines", name: t("zero meta-loss"),
        line: { color: "white", width: 2 }, hoverinfo: "skip" },
      marker(c.phi, t("φ_old"), c.colors.old, "circle"),
      marker(c.learned, t("learned φ"), c.colors.learned, "star"),
      marker(c.assumedStep, t("one step, assumed gradient"), c.colors.assumed, "x"),
    ];
    const R = 0.07; // the circle's radius in α (about 20 px at 400 px wide): big enough for a finger
    let moving = false;

    function pointShape(a, b) {
      return { type: "circle", xref: "x", yref: "y", x0: a - R, x1: a + R, y0: b - R, y1: b + R,
        line: { color: "#ff2d55", width: 2.5 }, fillcolor: "rgba(255,45,85,0.25)" };
    }

    function mapLayout(a, b) {
      return layout({
        height: 420,
        title: { text: t("where the inner loop converges"), font: FONT },
        xaxis: { title: { text: t("step size α") }, range: [-0.2, 2.2] },
        yaxis: { title: { text: t("momentum β") }, range: [-1.1, 1.1] },
        plot_bgcolor: "#c8c8c8",
        dragmode: false, // a drag that misses the circle must not zoom the map
        shapes: [pointShape(a, b)],
      });
    }

    function clampToSlider(input, value) {
      const min = Number(input.min);
      const max = Number(input.max);
      const step = Number(input.step);
      const snapped = Math.round((Math.min(max, Math.max(min, value)) - min) / step) * step + min;
      return Number(snapped.toFixed(3));
    }

    function moveTo(a, b) {
      setValue(ctl.alpha, clampToSlider(ctl.alpha, a));
      setValue(ctl.beta, clampToSlider(ctl.beta, b));
      update();
    }

    function update() {
      const a = Number(ctl.alpha.value);
      const b = Number(ctl.beta.value);
      const steps = Number(ctl.steps.value);
      const phi = M.phiFromMomentum(a, b);
      const lam = M.eigenvalues(a, b);
      const r = M.spectralRadius(a, b);
      out.phi.textContent = fmtVector(phi);
      out.eigen.textContent = lam[0].im === 0 ? tf("{first} and {second}", { first: fmtComplex(lam[0]), second: fmtComplex(lam[1]) })
        : `${fmt(lam[0].re)} ± ${fmt(Math.abs(lam[0].im))}i`;
      out.rho.textContent = fmt(r);
      out.verdict.textContent = r < 1 ? t("converges") : t("does not converge");
      out.loss.textContent = fmt(M.metaLoss(phi, c.theta0, c.thetaStar, c.steps));
      moving = true;
      Plotly.react(map, fixed, mapLayout(a, b), Object.assign({ edits: { shapePosition: true } }, PLOT_CONFIG));
      moving = false;
      const theta = M.unroll(phi, c.theta0, c.thetaStar, steps).theta;
      Plotly.react(trajectory, [{ x: theta.map((_, k) => k), y: theta, mode: "lines+markers", name: "θ_t",
        line: { color: c.colors.theta } }], layout({
        title: { text: t("inner loop"), font: FONT },
        xaxis: { title: { text: t("step t") } },
        yaxis: { title: { text: "θ_t" } },
        shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: c.thetaStar, y1: c.thetaStar,
          line: { color: "#444", dash: "dot", width: 1 } }],
        showlegend: false,
      }), PLOT_CONFIG);
    }

    for (const input of Object.values(ctl)) input.addEventListener("input", update);
    update();
    // Dragging the circle moves the point; so does a click on the map.
    map.on("plotly_relayout", (event) => {
      if (moving || !("shapes[0].x0" in event)) return;
      moveTo((event["shapes[0].x0"] + event["shapes[0].x1"]) / 2, (event["shapes[0].y0"] + event["shapes[0].y1"]) / 2);
    });
    map.on("plotly_click", (event) => {
      const point = event.points && event.points[0];
      if (point) moveTo(point.x, point.y);
    });
  }

  // --- meta-training with a chosen meta step size: chapter 6 -----------------------------------

  function metaTraining(root, c) {
    const { controls, readouts, plots } = skeleton(root,
      t("Explore: meta-train from φ_old with your meta step size η"));
    const ctl = {
      eta: slider(controls, { name: "eta", label: "η", min: 0.0001, max: 0.012, step: 0.0001, value: c.eta, digits: 6 }),
      iterations: slider(controls, { name: "iterations", label: t("meta-steps"), min: 1, max: 300, step: 1, value: c.iterations }),
    };
    resetButton(controls, () => {
      setValue(ctl.eta, c.eta);
      setValue(ctl.iterations, c.iterations);
      update();
    }, t("Reset to chapter 4's η and 300 meta-steps"));
    const out = {
      verdict: readout(readouts, "outcome", t("meta-training"), true),
      phi: readout(readouts, "phi", t("φ at the end")),
      loss: readout(readouts, "meta-loss", t("meta-loss at the end")),
      momentum: readout(readouts, "momentum", t("α, β at the end")),
      rho: readout(readouts, "rho", t("spectral radius at the end")),
    };
    const curve = plotBox(plots, t("The meta-loss at every meta-step, on a log scale"));
    const path = plotBox(plots, t("The path of meta-training in the plane of step size and momentum"));
    const curveAlphas = linspace(0.12, 1.6, 200);

    function update() {
      const eta = Number(ctl.eta.value);
      const iterations = Number(ctl.iterations.value);
      const run = M.metaTrain(c.phi, eta, iterations, c.theta0, c.thetaStar, c.steps);
      const last = run.phi[run.phi.length - 1];
      const m = M.momentum(last);
      if (run.diverged === null) {
        out.verdict.textContent = tf("{n} meta-steps, every meta-loss finite", { n: iterations });
        out.phi.textContent = fmtVector(last);
        out.loss.textContent = fmt(run.loss[run.loss.length - 1]);
        out.momentum.textContent = `${fmt(m.alpha)}, ${fmt(m.beta)}`;
        out.rho.textContent = fmt(M.spectralRadius(m.alpha, m.beta));
      } else {
        out.verdict.textContent = tf("diverged at meta-iteration {k}", { k: run.diverged });
        for (const key of ["phi", "loss", "momentum", "rho"]) out[key].textContent = "\u2014";
      }
      // a meta-loss of exactly 0 has no place on a log scale: values below 1e-32 are drawn at 1e-32
      const shown = run.loss.map((v) => Math.max(v, 1e-32));
      Plotly.react(curve, [{ x: shown.map((_, k) => k), y: shown, mode: "lines", name: t("meta-loss"),
        line: { color: c.colors.learned } }], layout({
        title: { text: run.diverged === null ? t("meta-loss at every meta-step (below 10⁻³²: drawn at 10⁻³²)")
          : tf("meta-loss, until it overflows at meta-iteration {k}", { k: run.diverged }), font: FONT },
        xaxis: { title: { text: t("meta-iteration k") } },
        yaxis: { title: { text: t("meta-loss") }, type: "log", exponentformat: "power" },
        margin: { l: 64, r: 12, t: 28, b: 84 },
        showlegend: false,
      }), PLOT_CONFIG);
      // far outside the plot (a diverging run), a point would be drawn at a position the browser
      // cannot take: the path stops where it leaves a generous box around the plot
      const ab = run.phi.map(M.momentum).map((v) => (Math.abs(v.alpha) < 50 && Math.abs(v.beta) < 50 ? v
        : { alpha: null, beta: null }));
      Plotly.react(path, [
        { x: curveAlphas, y: curveAlphas.map(M.zeroLossBeta), mode: "lines", name: t("zero meta-loss"),
          line: { color: "#444", width: 1.5, dash: "dot" }, hoverinfo: "skip" },
        { x: ab.map((v) => v.alpha), y: ab.map((v) => v.beta), mode: "lines+markers", name: t("meta-training"),
          marker: { size: 3 }, line: { color: c.colors.learned } },
        { x: [ab[0].alpha], y: [ab[0].beta], mode: "markers", name: "φ_old", marker: { color: c.colors.old, size: 10 } },
        { x: [0.5], y: [0], mode: "markers", name: t("dead-beat point"), marker: { color: "black", symbol: "diamond", size: 9 } },
      ], layout({
        title: { text: t("the optimizer it learns"), font: FONT },
        xaxis: { title: { text: t("step size α") }, range: [0, 1.2] },
        yaxis: { title: { text: t("momentum β") }, range: [-0.5, 1.1] },
      }), PLOT_CONFIG);
    }

    for (const input of Object.values(ctl)) input.addEventListener("input", update);
    update();
  }

  const KINDS = { "worked-example": workedExample, "convergence-map": convergenceMap, "meta-training": metaTraining };

  function build() {
    for (const root of document.querySelectorAll("div.explorable[data-explorable]")) {
      const kind = KINDS[root.dataset.explorable] || (() => {
        throw new Error("unknown kind");
      });
      root.hidden = false; // before building: plotly sizes its plots to the visible box
      try {
        const config = JSON.parse(root.dataset.config);
        STRINGS = config.strings || {};
        kind(root, config);
        root.dataset.ready = "true";
      } catch (error) {
        // The static figure stays the page's figure; the error goes to the console.
        root.hidden = true;
        root.dataset.failed = String(error);
        console.error(`explorable ${root.dataset.explorable} failed: ${error}`);
      }
    }
  }

  // After MathJax has typeset the page (if it has math): the text first, then the explorables,
  // whose drawing would otherwise compete with the typesetting (measured by make bench).
  function start() {
    const startup = window.MathJax && window.MathJax.startup;
    if (startup && startup.promise) startup.promise.then(build, build);
    else build();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
