"""The command line as a user runs it: exit statuses, one-line errors, JSON shapes, determinism.

``cli`` runs the command in this process (see conftest.py); ``tp`` starts the installed command, for the
console script itself; ``started_early`` starts it when the suite is collected (tests/conftest.py), for
long commands and for comparing separate processes."""

import json
import os
import shutil

import pytest

from checkers.registry import REGISTRY
from checkers.results import package_version

FIVE = ["softmax-variance", "pe-rotation", "lsa-gd", "chinchilla-allocation", "hippo-legs"]


def one_line_error(process, *fragments):
    assert process.returncode == 2, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith("transformer-proofs: error: ")
    assert "Traceback" not in process.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_version_and_help(tp):
    version = tp("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"transformer-proofs {package_version()}"
    help_text = tp("--help")
    assert help_text.returncode == 0
    for command in ("list", "show", "verify", "mutants", "example", "render"):
        assert command in help_text.stdout


def test_list_json_has_the_contract_shape(cli):
    listing = cli("list", "--json")
    assert listing.returncode == 0
    theorems = json.loads(listing.stdout)["theorems"]
    assert [t["id"] for t in theorems if t["id"] in FIVE] == [i for i in FIVE]
    for theorem in theorems:
        assert set(theorem) >= {"id", "title", "topic", "parameters"}
        for domain in theorem["parameters"].values():
            assert set(domain) >= {"type", "low", "high", "default"}
    pe = next(t for t in theorems if t["id"] == "pe-rotation")
    assert set(pe["parameters"]) == {"d_model", "k", "pos", "base"}


def test_show_prints_every_step_with_its_evidence(cli):
    shown = cli("show", "lsa-gd")
    assert shown.returncode == 0
    for part in ("Statement", "Assumptions", "Sources", "Derivation", "Step 1"):
        assert part in shown.stdout
    assert "[proved]" in shown.stdout
    as_json = json.loads(cli("show", "lsa-gd", "--format", "json").stdout)
    steps = as_json["derivation"]["steps"]
    assert steps and all(s["evidence"] in ("proved", "sampled", "given") for s in steps)


def test_verify_json_to_stdout_is_one_document(cli):
    run = cli("verify", "chinchilla-allocation", "pe-rotation", "--instances", "50", "--seed", "3", "--json", "-")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["seed"] == 3 and report["instances"] == 50 and report["version"] == package_version()
    for result in report["results"]:
        assert result["status"] == "verified"
        assert set(result) >= {"id", "status", "message", "symbolic", "numeric", "seconds"}
        assert set(result["symbolic"]) == {"steps", "proved", "sampled", "given", "failed", "custom"}
        numeric = result["numeric"]
        assert set(numeric) >= {"instances", "max_error", "tolerance", "policy", "counterexample"}
        assert numeric["max_error"] <= 1 and set(numeric["tolerance"]) == {"atol", "rtol"}


@pytest.mark.started_early(*[("verify", "hippo-legs", "--instances", "20", "--json", "report.json")] * 2)
def test_verify_json_is_deterministic_for_a_seed(early_run):
    # Two processes (each with its own hash seed), started when the suite is collected (tests/conftest.py).
    assert [run.returncode for run, _ in early_run] == [0, 0]
    strip = lambda path: [{k: v for k, v in r.items() if k != "seconds"} for r in json.loads(path.read_text())["results"]]
    first, second = (strip(folder / "report.json") for _, folder in early_run)
    assert first == second


def test_mutants_json_lists_every_mutant_refuted(cli):
    run = cli("mutants", "chinchilla-allocation", "--json", "-")
    assert run.returncode == 0, run.stderr
    (result,) = json.loads(run.stdout)["results"]
    assert len(result["mutants"]) >= 3
    assert all(m["refuted"] and m["evidence"] for m in result["mutants"])


def test_example_json_lists_every_parameter_and_catalog_values(cli):
    run = cli("example", "pe-rotation", "--param", "d_model=4", "--format", "json")
    assert run.returncode == 0, run.stderr
    example = json.loads(run.stdout)
    assert example["params"] == {"d_model": 4, "k": 3.0, "pos": 5.0, "base": 10000.0}
    assert example["params"]["d_model"] == 4 and example["verified"] is True
    assert len(example["values"]["M"]) == 4 and all(len(row) == 4 for row in example["values"]["M"])


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("verify", "no-such-theorem"), ("no-such-theorem",)),
        (("show", "no-such-theorem"), ("no-such-theorem",)),
        (("example", "pe-rotation", "--param", "d_model=7"), ("d_model=7",)),
        (("example", "pe-rotation", "--param", "d_model"), ("malformed",)),
        (("example", "pe-rotation", "--param", "colour=3"), ("colour",)),
        (("example", "hippo-legs", "--param", "N=0"), ("N=0",)),
        (("example", "chinchilla-allocation", "--param", "C=-1e20"), ("C=",)),
        (("example", "chinchilla-allocation", "--param", "alpha=nan"), ("alpha",)),
        (("example", "chinchilla-allocation", "--param", "A=inf"), ("A",)),
        (("verify", "lsa-gd", "--instances", "0"), ("--instances",)),
        (("render", "lsa-gd", "-o", "missing-dir/out.tex"), ("missing-dir",)),
        (("verify", "lsa-gd", "--json", "missing-dir/out.json", "--instances", "5"), ("missing-dir",)),
        (("render", "lsa-gd"), ("-o",)),
        (("list", "--module", "no_such_module_here"), ("no_such_module_here",)),
        (("frobnicate",), ("frobnicate",)),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args, fragments):
    one_line_error(cli(*args), *fragments)


def test_cuda_without_cuda_is_bad_input(cli):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    one_line_error(cli("verify", "lsa-gd", "--device", "cuda", "--instances", "5"), "CUDA")


def test_a_failing_user_theorem_exits_1_and_a_broken_one_exits_2(cli, tmp_path):
    (tmp_path / "mine.py").write_text(
        "import numpy as np, transformer_proofs as tp\n"
        "wrong = tp.Theorem('wrong-square', 'x^2', 'user', 'x^2', parameters={'x': tp.Real(0, 3)},"
        " claim=lambda x: x * x + (x > 2), oracle=lambda x: x ** 2)\n"
        "broken = tp.Theorem('broken-square', 'x^2', 'user', 'x^2', parameters={'x': tp.Real(0, 3)},"
        " claim=lambda x: np.nan * x, oracle=lambda x: x ** 2)\n"
    )
    env = {"PYTHONPATH": str(tmp_path)}
    failed = cli("verify", "wrong-square", "--module", "mine", "--instances", "100", "--json", "-", env=env)
    assert failed.returncode == 1
    result = json.loads(failed.stdout)["results"][0]
    assert result["status"] == "failed" and result["numeric"]["counterexample"]["params"]["x"] > 2
    broken = cli("verify", "broken-square", "--module", "mine", "--instances", "10", "--json", "-", env=env)
    assert broken.returncode == 2
    assert json.loads(broken.stdout)["results"][0]["status"] == "error"


@pytest.mark.slow
@pytest.mark.started_early(*[("render", "chinchilla-allocation", "lsa-gd", "-o", "handout.tex", "--seed", "1")] * 2)
def test_render_tex_is_byte_identical_for_a_seed(early_run):
    # Two processes (each with its own hash seed), started when the suite is collected (tests/conftest.py).
    assert [run.returncode for run, _ in early_run] == [0, 0]
    first, second = (folder / "handout.tex" for _, folder in early_run)
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text()
    assert r"\section{" in text and "Provenance" in text and "seed 1" in text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("latexmk") is None, reason="LaTeX (latexmk) is not installed")
@pytest.mark.started_early(("render", "--all", "--instances", "100", "-o", "handout.pdf", "--seed", "0"))
def test_render_pdf_of_every_theorem(early_run):
    # About 40 s of work: started when the suite is collected, it runs beside the other tests (tests/conftest.py).
    ((run, folder),) = early_run
    assert run.returncode == 0, run.stderr
    assert (folder / "handout.pdf").read_bytes().startswith(b"%PDF")
    assert "run into the margin" not in run.stderr, "a line of the handout is wider than 5pt past the margin"


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="LaTeX (latexmk) is not installed")
def test_show_tex_is_a_fragment_that_compiles(cli, tmp_path):
    from transformer_proofs.render import compile_pdf, environment

    shown = cli("show", "lsa-gd", "--format", "tex")
    assert shown.returncode == 0 and r"\evidence{proved}" in shown.stdout
    preamble = environment().get_template("macros.tex.j2").render()
    document = "\\documentclass{article}\n" + preamble + "\\begin{document}\n" + shown.stdout + "\\end{document}\n"
    assert compile_pdf(document).startswith(b"%PDF")


def test_render_exits_1_when_a_theorem_in_the_handout_fails(cli, tmp_path):
    (tmp_path / "mine.py").write_text(
        "import transformer_proofs as tp\n"
        "wrong = tp.Theorem('wrong-double', '2x', 'user', '2x', parameters={'x': tp.Real(0, 3)},"
        " claim=lambda x: 2 * x + (x > 2), oracle=lambda x: x + x)\n"
    )
    run = cli("render", "wrong-double", "--module", "mine", "-o", tmp_path / "out.tex", env={"PYTHONPATH": str(tmp_path)})
    assert run.returncode == 1 and (tmp_path / "out.tex").exists()


def test_listing_imports_neither_torch_nor_matplotlib():
    import subprocess
    import sys

    probe = "import sys, transformer_proofs as tp; tp.theorems(); print(sorted({'torch', 'matplotlib'} & set(sys.modules)))"
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert imported.stdout.strip() == "[]", imported.stdout + imported.stderr


def _outside(domain):
    """A value just outside a parameter's domain."""
    from checkers.domains import Choice

    if isinstance(domain, Choice):
        return "not-a-choice"
    return str(domain.high + (domain.step if hasattr(domain, "step") else abs(domain.high) + 1))


@pytest.mark.parametrize("theorem_id", [t.id for t in REGISTRY.theorems()])
def test_every_parameter_outside_its_domain_is_one_line_and_exit_2(theorem_id, capsys):
    from transformer_proofs.cli import main

    theorem = REGISTRY.get(theorem_id)
    for name, domain in theorem.parameters.items():
        with pytest.raises(SystemExit) as exit_status:
            main(["example", theorem_id, "--param", f"{name}={_outside(domain)}"])
        error = capsys.readouterr().err.strip().splitlines()
        assert exit_status.value.code == 2 and len(error) == 1, error
        assert error[0].startswith(f"transformer-proofs: error: {theorem_id}: parameter {name}="), error[0]


# Values just below a domain, on a where= boundary, NaN, or a shape the derivation does not cover.
SPECIFIC_BAD_PARAMETERS = [
    ("multihead-circuits", "H=0"),
    ("rank-collapse-rate", "layers=0"),
    ("attention-complexity", "T=0"),
    ("permutation-equivariance", "permutation=6"),
    ("jl-dimension", "eps=1"),
    ("attention-kernel-smoother", "temperature=0"),
    ("attention-rank", "n_tokens=0"),
    ("turing-completeness", "steps=0"),
    ("scaling-law-fit", "diverged=9"),
    ("chinchilla-frontier", "C=-1"),
    ("inference-optimal", "N_ref=0"),
    ("kaplan-exponents", "alpha_D=1.5"),
    ("manifold-dimension-exponent", "d=4"),
    ("ssd-duality", "L=7"),
    ("hippo-legt", "theta=0"),
    ("scan-associativity", "m=11"),
    ("selective-scan", "N=nan"),
    ("zoh-discretization", "N=5"),
]


@pytest.mark.parametrize(("theorem_id", "assignment"), SPECIFIC_BAD_PARAMETERS)
def test_a_bad_parameter_value_is_one_line_naming_it_and_exit_2(theorem_id, assignment, capsys):
    from transformer_proofs.cli import main

    with pytest.raises(SystemExit) as exit_status:
        main(["example", theorem_id, "--param", assignment])
    error = capsys.readouterr().err.strip().splitlines()
    assert exit_status.value.code == 2 and len(error) == 1, error
    assert error[0].startswith(f"transformer-proofs: error: {theorem_id}: parameter {assignment.split('=')[0]}="), error[0]


def test_no_cache_turns_the_derivation_cache_off(cli, monkeypatch):
    from checkers.derivation_cache import CACHE_VARIABLE

    monkeypatch.setenv(CACHE_VARIABLE, "/nonexistent-cache")
    assert cli("show", "chinchilla-frontier", "--no-cache").returncode == 0
    assert os.environ[CACHE_VARIABLE] == "off"
