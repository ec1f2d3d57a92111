"""Benchmark: the cost of the Chinchilla fit (scaling-law-fit) and of its bootstrap.

On the published runs (``--data PATH`` or ``$TP_CHINCHILLA_DATA``; Epoch AI's extraction of
Hoffmann et al.'s Figure 4, 240 runs after Besiroglu et al.'s preprocessing) or, without them,
on the theorem's 48 synthetic runs. Measured in one run, reported as seconds and as ratios
against the baseline, the full-grid fit (Hoffmann et al.'s 4500 starts scored in one pass, L-BFGS
from the best 16):

* one bootstrap resample (L-BFGS from the full-data optimum, then Newton's polish), averaged over ``--resamples``;
* the Newton polish alone (``newton_polish`` from the full-data optimum: the share of every fit it adds);
* the same resample with OpenBLAS left at its own thread count (what ``one_blas_thread`` avoids);
* optionally (``--all-starts``) L-BFGS from every one of the 4500 starts, as Hoffmann et al. and
  Besiroglu et al. do: minutes.

    python benchmarks/bench_scaling_fit.py [--data PATH] [--resamples 200] [--all-starts] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from numerics.scaling.fit import (
    HUBER_DELTA,
    _minimise,
    bootstrap,
    drop_highest_losses,
    fit_chinchilla,
    load_runs,
    newton_polish,
    one_blas_thread,
    planted_runs,
)


def runs_for(data: str | None) -> tuple[str, dict]:
    path = data or os.environ.get("TP_CHINCHILLA_DATA")
    if path:
        return f"published runs ({path})", drop_highest_losses(load_runs(path))
    N, D, L = planted_runs(482.01, 2085.43, 1.8172, 0.3478, 0.3658, diverged=2)
    return "synthetic runs (no --data, no TP_CHINCHILLA_DATA)", {"N": N, "D": D, "L": L}


def seconds(function, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat


def measure(runs: dict, resamples: int, all_starts: bool) -> dict:
    N, D, L = runs["N"], runs["D"], runs["L"]
    logs = np.log(N), np.log(D), np.log(L)
    fit = fit_chinchilla(N, D, L)
    theta = np.concatenate([np.log([fit.A, fit.B, fit.E]), [fit.alpha, fit.beta]])
    timings = {
        "full-grid fit (16 of 4500 starts polished)": seconds(lambda: fit_chinchilla(N, D, L), repeat=3),
        "bootstrap resample": seconds(lambda: bootstrap(theta, *logs, resamples, seed=0)) / resamples,
    }
    counts = np.random.default_rng(0).multinomial(len(L), np.full(len(L), 1 / len(L)), size=resamples).astype(float)
    # In the centred coordinates the fit polishes in (numerics.scaling.fit._minimise).
    shift = np.array([logs[0].mean(), logs[1].mean()])
    centred = theta.copy()
    centred[:2] -= centred[3:] * shift
    centred_logs = (logs[0] - shift[0], logs[1] - shift[1], logs[2], np.ones(len(L)), HUBER_DELTA)
    with one_blas_thread():
        timings["Newton polish of an optimum"] = seconds(lambda: newton_polish(centred, *centred_logs), repeat=50)
    # The bare solver, outside one_blas_thread: OpenBLAS at its default thread count.
    timings["bootstrap resample, BLAS threads left on"] = seconds(
        lambda: [_minimise(theta, *logs, c, HUBER_DELTA) for c in counts]
    ) / resamples
    if all_starts:
        timings["L-BFGS from all 4500 starts"] = seconds(lambda: fit_chinchilla(N, D, L, polish=None))
    return {"runs": len(L), "fit": {k: getattr(fit, k) for k in ("A", "B", "E", "alpha", "beta", "objective")}, "seconds": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="CSV of runs (default: $TP_CHINCHILLA_DATA, else synthetic)")
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--all-starts", action="store_true", help="also run L-BFGS from all 4500 starts (minutes)")
    parser.add_argument("--json", default=None, help="write the measurements here")
    args = parser.parse_args()
    source, runs = runs_for(args.data)
    result = measure(runs, args.resamples, args.all_starts)
    baseline = result["seconds"]["full-grid fit (16 of 4500 starts polished)"]
    print(f"{source}: {result['runs']} runs; fit {result['fit']}")
    print(f"{'what':<45} {'seconds':>10} {'/ full-grid fit':>16}")
    for name, value in result["seconds"].items():
        print(f"{name:<45} {value:>10.4f} {value / baseline:>16.4f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"source": source, **result}, handle, indent=2)


if __name__ == "__main__":
    main()
