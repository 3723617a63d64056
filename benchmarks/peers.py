"""The peers that ``benchmarks/run.py`` measures metaopt against, written independently of it.

* :func:`floor` — the plain-Python floor: the worked example's forward loop and a
  hand-written reverse sweep on Python floats, with no input checks at all. Nothing
  that checks its input and returns the same result can be much faster in Python, so
  ``meta_gradient``'s goal is a small multiple of it. It returns what ``meta_gradient``
  returns (a float and a numpy array of three), so both pay for the same result.
* :func:`jax_single` and :func:`jax_batch` — the same meta-loss written once in JAX
  (``lax.scan`` over the steps, float64) and differentiated by ``jax.value_and_grad``,
  jitted, and vmapped over a batch of phi: what a reader would write with the field's
  own autodiff library. :func:`jax_forward` differentiates it in forward mode instead
  (``jax.jacfwd``), for the comparison of the two modes.

None of this code is shared with ``metaopt``: the benchmark first checks that every peer
gives metaopt's numbers (to rounding), so a fast wrong answer cannot win.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def floor(phi1, phi2, phi3, theta0, theta_star, steps):
    """(L(θ_T), dL/dφ as an array of 3) on plain floats: forward, then the reverse sweep."""
    grads, hs = [], []
    theta, h = theta0, 0.0
    for _ in range(steps):
        d = 2.0 * (theta - theta_star)
        h = phi1 * d + phi2 * h
        theta = theta + phi3 * h
        grads.append(d)
        hs.append(h)
    err = theta - theta_star
    a = 2.0 * err  # dL/dθ_t, carried back
    b = 0.0  # dL/dh_t arriving from step t + 1
    d1 = d2 = d3 = 0.0
    for t in range(steps - 1, -1, -1):
        h = hs[t]
        d3 += a * h
        hb = b + phi3 * a
        d1 += hb * grads[t]
        if t:
            d2 += hb * hs[t - 1]
        b = phi2 * hb
        a += 2.0 * phi1 * hb
    return err * err, np.array((d1, d2, d3))


@lru_cache(maxsize=None)
def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    def loss(phi, theta0, theta_star, steps):
        def step(carry, _):
            theta, h = carry
            h = phi[0] * 2.0 * (theta - theta_star) + phi[1] * h
            return (theta + phi[2] * h, h), None

        (theta, _), _ = lax.scan(step, (theta0, jnp.zeros_like(theta0)), None, length=steps)
        return (theta - theta_star) ** 2

    value_and_grad = jax.value_and_grad(loss)
    single = jax.jit(value_and_grad, static_argnums=3)
    batch = jax.jit(jax.vmap(value_and_grad, in_axes=(0, None, None, None)), static_argnums=3)
    forward = jax.jit(jax.jacfwd(loss), static_argnums=3)  # forward mode: one tangent per component of phi
    return jax, jnp, single, batch, forward


def jax_version() -> str:
    return _jax()[0].__version__


def _waiting(compiled, steps):
    """``compiled`` for ``steps`` as a function of (phi, theta0, theta_star) that waits for its results
    (JAX returns before it has computed them)."""
    jax = _jax()[0]

    def run(phi, theta0, theta_star):
        return jax.block_until_ready(compiled(phi, theta0, theta_star, steps))

    return run


def jax_single(steps):
    """A function phi -> (loss, grad), jitted for ``steps``."""
    return _waiting(_jax()[2], steps)


def jax_batch(steps):
    """A function phis (n, 3) -> (loss (n,), grad (n, 3)), vmapped and jitted for ``steps``."""
    return _waiting(_jax()[3], steps)


def jax_forward(steps):
    """A function phi -> grad by forward mode (``jax.jacfwd``), jitted for ``steps``."""
    return _waiting(_jax()[4], steps)


def to_device(array):
    """A numpy array as a JAX array already on the device (so a timing excludes the copy)."""
    return _jax()[1].asarray(array)
