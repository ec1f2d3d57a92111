"""Smoke test of benchmarks/bench_ssm.py: every part runs at tiny sizes and prints its targets' verdicts."""

import importlib.util
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_ssm.py"


@pytest.fixture(scope="module")
def bench():
    # benchmarks/ is not a package: load the script by path.
    spec = importlib.util.spec_from_file_location("bench_ssm", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verdicts_say_met_or_missed(bench):
    assert bench.speedup_verdict(3.0, 3.0).endswith("met)") and "MISSED" in bench.speedup_verdict(2.9, 3.0)
    assert bench.error_verdict(1e-10, 1e-10).endswith("met)") and "MISSED" in bench.error_verdict(2e-10, 1e-10)
    assert bench.ceiling_verdict(20.0, 20.0).endswith("met)") and "MISSED" in bench.ceiling_verdict(20.5, 20.0)


def test_every_part_runs_at_tiny_sizes(bench, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bench, "FAST_REPEATS", 1)
    monkeypatch.setattr(bench, "SELECTIVE_TARGET", (32, 3.0))
    monkeypatch.setattr(bench, "SSD_TARGET", (64, 8.0))
    lengths = [32, 64]
    selective_times = bench.bench_selective(lengths, repeats=1)
    speedups = bench.bench_recurrence(repeats=1, length=64)
    ssd_times = bench.bench_ssd(lengths, {32}, repeats=1)
    errors = bench.accuracy(lengths)
    recurrence_errors = bench.recurrence_accuracy(lengths, batch=2, channels=4)
    bench.figure(str(tmp_path / "bench.pdf"), lengths, selective_times, lengths, ssd_times, lengths, errors)
    printed = capsys.readouterr().out
    # One verdict per target: selective at L = 32 (stand-in), two recurrence regimes and the few-channel cumsum
    # ceiling, ssd, float64 twice.
    assert printed.count("met)") + printed.count("MISSED)") == 7, printed
    assert set(speedups) == {"few channels", "many channels"}
    assert set(recurrence_errors) == {(s, d) for s in bench.RECURRENCE_SCANS for d in ("float64", "float32")}
    # The accuracy tables are real measurements: float64 scans agree with the loop to rounding.
    assert max(max(v) for (_, d), v in recurrence_errors.items() if d == "float64") <= bench.FLOAT64_TARGET
    # float32: decays < 1, so roundings (eps = 6e-8) add up like a random walk: sqrt(64) eps = 5e-7; 2e-6 allows 4x.
    assert 0 < max(max(v) for (_, d), v in recurrence_errors.items() if d == "float32") < 2e-6
    assert "float64, every scan, all L: max" in printed and "met)" in printed.split("float64, every scan")[1]
    assert (tmp_path / "bench.pdf").stat().st_size > 0
