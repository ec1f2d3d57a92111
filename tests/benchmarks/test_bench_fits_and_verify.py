"""Smoke tests of benchmarks/bench_verify.py and bench_scaling_fit.py at tiny sizes: they measure what they say."""

import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest

import transformer_proofs as tp

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name):
    # benchmarks/ is not a package: load the script by path.
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench_verify():
    return load("bench_verify")


@pytest.fixture(scope="module")
def bench_scaling_fit():
    return load("bench_scaling_fit")


def test_every_reason_names_a_theorem(bench_verify):
    ids = {theorem.id for theorem in tp.theorems()}
    assert set(bench_verify.REASONS) <= ids and all(reason.strip() for reason in bench_verify.REASONS.values())


def test_a_row_compares_the_batched_checker_with_the_loop_on_the_same_instances(bench_verify):
    row = bench_verify.measure(tp.get("kaplan-exponents"), 40, time.process_time)
    assert row["status"] == "verified" and row["groups"] == 1
    assert row["loop_over_batched"] == pytest.approx(row["loop_s"] / row["batched_s"])


def test_a_verify_run_reports_its_own_time_peak_memory_and_status(bench_verify, tmp_path):
    seconds, peak, status = bench_verify.run_verify("kaplan-exponents", "--instances", "20", "--workers", "1", cache=str(tmp_path))
    assert status == 0 and seconds > 0 and peak > 50  # the interpreter with numpy and SymPy alone is above 50 MB
    assert list(tmp_path.iterdir()), "the run did not use the cache it was given"


def test_the_vectorised_fit_gives_the_loop_s_answers(bench_scaling_fit):
    claim = bench_scaling_fit.claim_and_oracle(4, time.process_time)
    assert claim["largest_relative_difference"] < 1e-10
    assert claim["max_error_vectorised"] <= 1 and claim["max_error_loop"] <= 1
    assert np.isfinite(claim["oracle_s"])
