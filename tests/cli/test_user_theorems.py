"""Malformed user theorems at the command line: one line naming the theorem (or module) and the problem, exit 2."""

import textwrap

import pytest

BAD = textwrap.dedent(
    """
    import numpy as np
    import transformer_proofs as tp

    wrong_shape = tp.Theorem(
        id="wrong-shape", title="t", topic="user", statement="x", parameters={"x": tp.Real(0, 1)},
        claim=lambda x: x, oracle=lambda x: np.stack([x, x], axis=-1),
    )
    nan_claim = tp.Theorem(
        id="nan-claim", title="t", topic="user", statement="x", parameters={"x": tp.Real(0, 1)},
        claim=lambda x: x * np.nan, oracle=lambda x: x,
    )
    """
)


@pytest.fixture
def modules(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "clash.py").write_text(
        "import transformer_proofs as tp\n"
        "mine = tp.Theorem(id='lsa-gd', title='t', topic='user', statement='x', parameters={'x': tp.Real(0, 1)},"
        " claim=lambda x: x, oracle=lambda x: x)\n"
    )
    (tmp_path / "outside.py").write_text(
        "import transformer_proofs as tp\n"
        "mine = tp.Theorem(id='outside', title='t', topic='user', statement='x',"
        " parameters={'x': tp.Real(0, 1, default=3)}, claim=lambda x: x, oracle=lambda x: x)\n"
    )
    (tmp_path / "broken.py").write_text("import a_module_that_does_not_exist\n")
    return {"PYTHONPATH": str(tmp_path)}


def one_line(run, *fragments):
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("transformer-proofs: error: "), run.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        (("example", "wrong-shape", "--module", "bad"), ("wrong-shape", "shape")),
        (("example", "nan-claim", "--module", "bad"), ("nan-claim", "NaN")),
        (("example", "nan-claim", "--module", "bad", "--param", "x=5"), ("nan-claim", "x=5", "outside its domain")),
        (("verify", "--module", "clash"), ("duplicate theorem id 'lsa-gd'", "'clash'")),
        (("list", "--module", "outside"), ("'outside'", "default 3 is outside")),
        (("verify", "--module", "broken"), ("cannot import theorem module 'broken'", "a_module_that_does_not_exist")),
    ],
)
def test_a_malformed_user_theorem_is_one_clear_line(cli, modules, arguments, fragments):
    one_line(cli(*arguments, env=modules), *fragments)


def test_verify_reports_each_broken_theorem_as_an_error_not_a_pass(cli, modules):
    run = cli("verify", "wrong-shape", "nan-claim", "--module", "bad", "--instances", "10", env=modules)
    assert run.returncode == 2
    assert "wrong-shape: claim has shape () per instance, oracle (2,)" in run.stdout
    assert "nan-claim: the claim returned NaN" in run.stdout


def test_an_entry_point_module_is_loaded_without_module(tp, tmp_path):
    """A distribution naming a module in the group transformer_proofs.theorems, found on the path."""
    (tmp_path / "pkgtheorems.py").write_text(
        "import transformer_proofs as tp\n"
        "double = tp.Theorem(id='entry-double', title='2x = x + x', topic='user', statement='2x = x + x',"
        " parameters={'x': tp.Real(0, 1)}, claim=lambda x: 2 * x, oracle=lambda x: x + x,"
        " mutants={'3x': lambda x: 3 * x})\n"
    )
    info = tmp_path / "pkgtheorems-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pkgtheorems\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[transformer_proofs.theorems]\npkgtheorems = pkgtheorems\n")
    env = {"PYTHONPATH": str(tmp_path)}
    listed = tp("list", "--topic", "user", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "entry-double" in listed.stdout
    assert tp("verify", "entry-double", "--instances", "50", env=env).returncode == 0


def test_render_and_example_exit_2_naming_a_theorem_that_errs(cli, modules, tmp_path):
    errored = cli("render", "nan-claim", "--module", "bad", "--instances", "10", "-o", tmp_path / "x.tex", env=modules)
    one_line(errored, "nan-claim: the claim returned NaN")
    (tmp_path / "values_raise.py").write_text(
        "import transformer_proofs as tp\n"
        "mine = tp.Theorem(id='values-raise', title='t', topic='user', statement='x', parameters={'x': tp.Real(0, 1)},"
        " claim=lambda x: x, oracle=lambda x: x, values=lambda x: {'y': 1 / 0})\n"
    )
    one_line(cli("example", "values-raise", "--module", "values_raise", env=modules), "values-raise: values= raised ZeroDivisionError")


def test_choice_parameters_and_text_values_render_in_both_versions(cli, modules, tmp_path):
    (tmp_path / "choices.py").write_text(
        "import transformer_proofs as tp\n"
        "mine = tp.Theorem(id='choice-user', title='t', topic='user', statement='$x = x$',"
        " parameters={'kind': tp.Choice(('a', 'b')), 'x': tp.Real(0, 1)},"
        " claim=lambda x: x, oracle=lambda x: x, values=lambda kind, x: {'verdict': f'holds for {kind}', 'x': x})\n"
    )
    for option in ("--solutions", "--no-solutions"):
        out = tmp_path / f"c{option}.tex"
        run = cli("render", "choice-user", "--module", "choices", option, "--instances", "10", "-o", out, env=modules)
        assert run.returncode == 0, run.stderr
        assert r"\text{a}" in out.read_text()
    assert "holds for a" in (tmp_path / "c--solutions.tex").read_text()
