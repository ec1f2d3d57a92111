"""Benchmark: where `verify` spends its time, and what batching buys.

For each built-in theorem: the symbolic check (the first, uncached call in this
process, then a cached one), the numeric check at ``--instances`` points, and
the claim plus oracle evaluated on the same instances twice: batched (one call
per shape group, as the checker does) and one instance at a time (the
baseline, measured in the same run). Reported as seconds and as the ratio
loop / batched, since absolute times on shared machines are noisy.

    python benchmarks/bench_verify.py [--instances 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

from checkers.engine import evaluate_group, run_check
from checkers.registry import REGISTRY
from checkers.sampling import draw_instances, split_instances


def evaluate_groups(theorem, groups) -> float:
    """Seconds to evaluate claim and oracle on every group (as the checker does)."""
    start = time.perf_counter()
    for group in groups:
        evaluate_group(theorem, group)
    return time.perf_counter() - start


def measure(theorem, instances: int) -> dict:
    start = time.perf_counter()
    derivation = theorem.built_derivation()
    if derivation is not None:
        derivation.check()
    symbolic_cold = time.perf_counter() - start
    result = run_check(theorem, instances=instances, seed=0)
    groups = draw_instances(theorem, instances, seed=0)
    batched = evaluate_groups(theorem, groups)
    singles = [single for group in groups for single in split_instances(group)]
    loop = evaluate_groups(theorem, singles)
    return {
        "id": theorem.id,
        "status": result.status,
        "symbolic_cold_s": symbolic_cold,
        "verify_s": result.seconds,
        "verify_symbolic_cached_s": result.timings.get("symbolic", 0.0),
        "verify_numeric_s": result.timings.get("numeric", 0.0),
        "groups": len(groups),
        "batched_s": batched,
        "loop_s": loop,
        "loop_over_batched": loop / batched,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--json", help="also write the rows as JSON to this path")
    args = parser.parse_args()
    rows = [measure(t, args.instances) for t in REGISTRY.theorems()]
    header = f"{'theorem':<24}{'symbolic(cold)':>15}{'verify':>9}{'numeric':>9}{'groups':>7}{'batched':>9}{'loop':>9}{'loop/batched':>13}"
    print(header)
    for r in rows:
        print(
            f"{r['id']:<24}{r['symbolic_cold_s']:>14.2f}s{r['verify_s']:>8.2f}s{r['verify_numeric_s']:>8.2f}s"
            f"{r['groups']:>7}{r['batched_s']:>8.3f}s{r['loop_s']:>8.2f}s{r['loop_over_batched']:>12.0f}x"
        )
    total_symbolic = sum(r["symbolic_cold_s"] for r in rows)
    total_verify = sum(r["verify_s"] for r in rows)
    total_batched = sum(r["batched_s"] for r in rows)
    total_loop = sum(r["loop_s"] for r in rows)
    print(
        f"all: symbolic (cold) {total_symbolic:.2f}s, verify {total_verify:.2f}s at {args.instances} instances; "
        f"batched {total_batched:.2f}s vs per-instance loop {total_loop:.2f}s ({total_loop / total_batched:.0f}x)"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
