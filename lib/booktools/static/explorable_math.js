/* The arithmetic of the book's explorables: one small script, no dependencies.
 *
 * The same recurrences as metaopt (lib/metaopt/core.py and dynamics.py), in plain
 * JavaScript doubles, so that a page can compute them while the reader moves a slider:
 *
 *   ∇_t = 2(θ_t − θ*),  h_t = φ1 ∇_t + φ2 h_{t−1},  g_t = φ3 h_t,  θ_{t+1} = θ_t + g_t,
 *   h_{−1} = 0,  meta-loss L(θ_T) = (θ_T − θ*)².
 *
 * tests/test_explorables.py runs these functions in Chromium and compares them with the
 * exact reference (tests/reference.py, rational arithmetic) and with sympy's exact
 * intervals (metaopt.symbolic.helpful_intervals), on random inputs.
 */
(function (root) {
  "use strict";

  /** The inner loop: θ_0..θ_T, h_0..h_{T−1} and ∇_0..∇_{T−1}. */
  function unroll(phi, theta0, thetaStar, steps) {
    const [p1, p2, p3] = phi;
    const theta = [theta0];
    const h = [];
    const grad = [];
    let previous = 0; // h_{−1} = 0
    for (let t = 0; t < steps; t++) {
      const nabla = 2 * (theta[t] - thetaStar);
      const ht = p1 * nabla + p2 * previous;
      grad.push(nabla);
      h.push(ht);
      theta.push(theta[t] + p3 * ht);
      previous = ht;
    }
    return { theta, h, grad };
  }

  /** The meta-loss (θ_T − θ*)². */
  function metaLoss(phi, theta0, thetaStar, steps) {
    const error = unroll(phi, theta0, thetaStar, steps).theta[steps] - thetaStar;
    return error * error;
  }

  /** The meta-loss and its gradient in φ, by backpropagation through time. */
  function metaGradient(phi, theta0, thetaStar, steps) {
    const [p1, p2, p3] = phi;
    const { theta, h, grad } = unroll(phi, theta0, thetaStar, steps);
    const error = theta[steps] - thetaStar;
    const d = [0, 0, 0];
    let thetaBar = 2 * error; // adjoint of θ_{t+1}
    let hBarLater = 0; // what h_t receives through h_{t+1} = φ1 ∇_{t+1} + φ2 h_t
    for (let t = steps - 1; t >= 0; t--) {
      // θ_{t+1} = θ_t + g_t and g_t = φ3 h_t
      const gBar = thetaBar;
      d[2] += gBar * h[t];
      const hBar = p3 * gBar + hBarLater;
      // h_t = φ1 ∇_t + φ2 h_{t−1}
      d[0] += hBar * grad[t];
      d[1] += hBar * (t > 0 ? h[t - 1] : 0);
      hBarLater = p2 * hBar;
      // ∇_t = 2(θ_t − θ*): θ_t reaches the loss through θ_{t+1} and through ∇_t
      thetaBar = thetaBar + 2 * p1 * hBar;
    }
    return { loss: error * error, grad: d };
  }

  /** One meta-update φ − η d. */
  function metaStep(phi, direction, eta) {
    return phi.map((p, i) => p - eta * direction[i]);
  }

  /** The root of f between a and b (f(a), f(b) of opposite signs), by bisection to the last bit. */
  function bisect(f, a, b) {
    const negativeAtA = f(a) < 0;
    for (let i = 0; i < 200; i++) {
      const mid = 0.5 * (a + b);
      if (mid <= a || mid >= b) break;
      if ((f(mid) < 0) === negativeAtA) a = mid;
      else b = mid;
    }
    return 0.5 * (a + b);
  }

  /** Meta-training: `iterations` meta-updates φ ← φ − η ∇φL from `phi`, as metaopt.meta_train.
   * Returns {phi, loss} for iterations 0..K and `diverged`: the iteration at which the meta-loss,
   * its gradient or the update stopped being finite numbers (then the lists end before it), or null. */
  function metaTrain(phi, eta, iterations, theta0, thetaStar, steps) {
    const phis = [];
    const losses = [];
    let current = phi.slice();
    for (let k = 0; k <= iterations; k++) {
      const run = metaGradient(current, theta0, thetaStar, steps);
      const theta = unroll(current, theta0, thetaStar, steps).theta;
      if (![run.loss, ...run.grad, ...theta].every(Number.isFinite)) return { phi: phis, loss: losses, diverged: k };
      phis.push(current);
      losses.push(run.loss);
      if (k < iterations) {
        current = metaStep(current, run.grad, eta);
        if (!current.every(Number.isFinite)) return { phi: phis, loss: losses, diverged: k + 1 };
      }
    }
    return { phi: phis, loss: losses, diverged: null };
  }

  /** The intervals of 0 < η ≤ etaTop where φ − η d lowers the meta-loss.
   *
   * The loss along the ray is sampled at `samples` equal steps of η; every change of sign of
   * L(φ − η d) − L(φ) between two samples is refined by bisection. An interval narrower than
   * one sample step can be missed. Returns [{low, high, open}], where `open` means that the
   * interval goes on past etaTop.
   */
  function helpfulIntervals(phi, direction, theta0, thetaStar, steps, etaTop, samples = 2000) {
    const start = metaLoss(phi, theta0, thetaStar, steps);
    const lower = (eta) => metaLoss(metaStep(phi, direction, eta), theta0, thetaStar, steps) - start;
    const intervals = [];
    let low = null;
    let previous = 0;
    for (let k = 1; k <= samples; k++) {
      const eta = (etaTop * k) / samples;
      const helps = lower(eta) < 0; // false for an overflow (NaN or +Infinity)
      if (k === 1 && helps) {
        low = 0;
      } else if (helps && low === null) {
        low = bisect(lower, previous, eta);
      } else if (!helps && low !== null) {
        intervals.push({ low, high: bisect(lower, previous, eta), open: false });
        low = null;
      }
      previous = eta;
    }
    if (low !== null) intervals.push({ low, high: etaTop, open: true });
    return intervals;
  }

  /** The RNN optimizer as heavy-ball momentum: α = −φ1 φ3, β = φ2. */
  function momentum(phi) {
    return { alpha: -phi[0] * phi[2] + 0, beta: phi[1] };
  }

  /** The optimizer with step size α and momentum β, with φ3 = −1: (α, β, −1). */
  function phiFromMomentum(alpha, beta) {
    return [alpha, beta, -1];
  }

  /** The eigenvalues of the error's transition matrix on L = (θ − θ*)²: roots of
   * λ² − (1 − 2α + β) λ + β. Returns [{re, im}, {re, im}], the larger modulus first (as
   * metaopt.dynamics.eigenvalues). */
  function eigenvalues(alpha, beta) {
    const s = 1 - 2 * alpha + beta;
    const discriminant = s * s - 4 * beta;
    if (discriminant >= 0) {
      const r = Math.sqrt(discriminant);
      const roots = [{ re: (s + r) / 2, im: 0 }, { re: (s - r) / 2, im: 0 }];
      return Math.abs(roots[1].re) > Math.abs(roots[0].re) ? [roots[1], roots[0]] : roots;
    }
    const i = Math.sqrt(-discriminant) / 2;
    return [{ re: s / 2, im: i }, { re: s / 2, im: -i }];
  }

  /** The spectral radius: the inner loop converges from every θ0 exactly when it is below 1. */
  function spectralRadius(alpha, beta) {
    return Math.max(...eigenvalues(alpha, beta).map((z) => Math.hypot(z.re, z.im)));
  }

  /** The momentum that makes the two-step meta-loss zero: β = (1 − 2α)² / 2α. */
  function zeroLossBeta(alpha) {
    return (1 - 2 * alpha) ** 2 / (2 * alpha);
  }

  root.MetaoptMath = {
    unroll, metaLoss, metaGradient, metaStep, metaTrain, helpfulIntervals,
    momentum, phiFromMomentum, eigenvalues, spectralRadius, zeroLossBeta,
  };
})(typeof window !== "undefined" ? window : globalThis);
