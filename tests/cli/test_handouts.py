"""Course handouts: student and solution versions, variants, the exercise sheet, figures and errata."""

import json
import shutil
import textwrap

import pytest

from checkers.registry import REGISTRY
from checkers.worked import variant_params
from checkers.exercises import EXERCISES, Exercise
from transformer_proofs.render import handout_source, sheet_sources

# A user theorem with a figure and an erratum, loaded with --module from a temporary directory.
USER_MODULE = textwrap.dedent(
    """
    import numpy as np
    from matplotlib.figure import Figure
    import transformer_proofs as tp

    def squares_figure(seed, n):
        figure = Figure(figsize=(3, 2))
        axes = figure.add_subplot()
        x = np.random.default_rng(seed).uniform(0, n, 20)
        axes.plot(np.sort(x), np.sort(x) ** 2)
        return [tp.Plot("squares", "Squares of random points", figure)]

    square_sum = tp.Theorem(
        id="odd-sum", title="Sum of the first n odd numbers", topic="user",
        statement=r"$\\sum_{k=1}^{n} (2k - 1) = n^2$",
        parameters={"n": tp.Integer(1, 1000, default=7)},
        claim=lambda n: n ** 2,
        oracle=lambda n: np.array([np.arange(1, 2 * m, 2).sum() for m in n]),
        mutants={"n(n+1)": lambda n: n * (n + 1), "2n - 1": lambda n: 2 * n - 1, "n^2 - 1": lambda n: n ** 2 - 1},
        figures=squares_figure,
        questions={"claim": "What is the sum of the first $n$ odd numbers? Prove it by induction."},
        errata=(
            tp.Erratum("my notes", "lecture 1", "the sum is $n(n+1)$", "the sum is $n^2$", refuted_by="n(n+1)"),
            tp.Erratum(
                "my notes", "lecture 2", "the sum grows like $n$", "the sum is $n^2$", kind="ambiguous",
                readings=("the number of terms grows like $n$: true", "the sum's value grows like $n$: false"),
                evidence="the value is $n^2$",
            ),
        ),
    )
    """
)


@pytest.fixture
def user_module(tmp_path):
    (tmp_path / "oddsum.py").write_text(USER_MODULE)
    return {"PYTHONPATH": str(tmp_path)}


def test_student_version_asks_without_answering(cli, tmp_path, user_module):
    student, full = tmp_path / "student.tex", tmp_path / "full.tex"
    assert cli("render", "odd-sum", "--module", "oddsum", "--no-solutions", "-o", student, env=user_module).returncode == 0
    assert cli("render", "odd-sum", "--module", "oddsum", "-o", full, env=user_module).returncode == 0
    student_text, full_text = student.read_text(), full.read_text()
    assert "Student version" in student_text and "Prove it by induction." in student_text
    # The answer (7^2 = 49), the refutations and the stamp are in the solutions only.
    assert r"\num{49}" in full_text and r"\num{49}" not in student_text
    assert "refuted" in full_text and "refuted" not in student_text
    assert "Verification." not in student_text.split(r"\begin{document}")[1]


RENDER_ODD_SUM = ("render", "odd-sum", "--module", "oddsum", "-o", "h.tex")


@pytest.mark.started_early(RENDER_ODD_SUM, RENDER_ODD_SUM, files={"oddsum.py": USER_MODULE})
def test_figures_are_written_beside_the_tex_byte_identical_for_a_seed(early_run):
    # Two processes (each with its own hash seed), started when the suite is collected (tests/conftest.py).
    assert [run.returncode for run, _ in early_run] == [0, 0]
    (_, first), (_, second) = early_run
    figure = first / "odd-sum-squares.pdf"
    assert figure.read_bytes().startswith(b"%PDF")
    assert figure.read_bytes() == (second / "odd-sum-squares.pdf").read_bytes()
    assert r"\includegraphics[width=0.85\linewidth]{odd-sum-squares.pdf}" in (first / "h.tex").read_text()


@pytest.mark.slow
@pytest.mark.started_early(*[(*RENDER_ODD_SUM, "--variant", v) for v in ("1", "1", "2")], files={"oddsum.py": USER_MODULE})
def test_variants_redraw_the_example_and_repeat_byte_for_byte(early_run):
    # Three processes (each with its own hash seed), started when the suite is collected (tests/conftest.py).
    assert [run.returncode for run, _ in early_run] == [0, 0, 0]
    first, again, second = ((folder / "h.tex").read_bytes() for _, folder in early_run)
    assert first == again
    assert first != second
    assert "variant 1" in first.decode()


def test_variant_parameters_stay_in_their_domains_and_shapes_stay_fixed():
    for theorem in REGISTRY.theorems():
        for variant in range(5):
            params = variant_params(theorem, variant)
            for name, value in params.items():
                assert theorem.parameters[name].contains(value), (theorem.id, name, value)
            if theorem.variants is None:
                for name in theorem.shape_parameters:
                    assert params[name] == theorem.default_params()[name]


def test_errata_lists_the_course_claims_with_their_theorems(cli, user_module):
    listed = json.loads(cli("errata", "--json", "--module", "oddsum", env=user_module).stdout)["errata"]
    by_id = {(e["id"], e["section"]): e for e in listed}
    mine = by_id[("odd-sum", "lecture 1")]
    assert mine["refuted_by"] == "n(n+1)" and mine["corrected"] == "the sum is $n^2$" and mine["kind"] == "false"
    assert by_id[("odd-sum", "lecture 2")]["readings"][1].endswith("false")
    for erratum in listed:
        assert set(erratum) == {"id", "kind", "source", "section", "stated", "corrected", "readings", "refuted_by", "evidence"}
        assert erratum["refuted_by"] or erratum["evidence"]
    text = cli("errata", "--module", "oddsum", env=user_module)
    assert text.returncode == 0 and "lecture 1 (odd-sum): false" in text.stdout
    assert "reading:   the number of terms grows like $n$: true" in text.stdout


def test_handout_groups_the_errata_by_kind_and_shows_both_readings(cli, tmp_path, user_module):
    out = tmp_path / "h.tex"
    assert cli("render", "odd-sum", "--module", "oddsum", "-o", out, env=user_module).returncode == 0
    tex = out.read_text()
    false_at, ambiguous_at = tex.index("False: wrong under every"), tex.index("Ambiguous: true under one reading")
    assert false_at < tex.index("lecture 1") < ambiguous_at < tex.index("Reading 2:")


def test_an_ambiguous_erratum_must_give_both_readings():
    import transformer_proofs as tp

    with pytest.raises(tp.TheoremDefinitionError, match="two readings"):
        tp.Erratum("notes", "1", "a", "b", kind="ambiguous", readings=("only one",))
    with pytest.raises(tp.TheoremDefinitionError, match="kind"):
        tp.Erratum("notes", "1", "a", "b", kind="wrong")


def test_every_erratum_that_names_a_mutant_is_refuted_by_it():
    from checkers.engine import mutant_outcome

    for theorem in REGISTRY.theorems():
        named = {e.refuted_by for e in theorem.errata if e.refuted_by}
        if named:
            outcome = {m.name: m.refuted for m in mutant_outcome(theorem, generated=False).mutants}
            assert all(outcome[name] for name in named), theorem.id


def test_handout_appends_the_errata_of_its_theorems():
    theorem = REGISTRY.get("hippo-legs")
    tex = handout_source([theorem]).tex
    assert "Errata: claims of the course material that need correcting" in tex
    assert theorem.errata[0].stated in tex


def test_sheet_lists_every_exercise_and_says_which_are_not_covered():
    exercises = (
        Exercise("1.1", "Allocation", "Allocate a budget.", "chinchilla-allocation"),
        Exercise("1.2", "Open question", "Not answered here."),
        Exercise("2.1", "Allocation again", "Allocate it in code.", "chinchilla-allocation"),
    )
    student, solutions = sheet_sources(exercises, instances=50)
    for source in (student, solutions):
        assert r"\section{Exercise 1.1: Allocation}" in source.tex
        assert "Not yet covered by the toolkit" in source.tex.split("Exercise 1.2")[1]
        assert "The same theorem answers exercise 1.1 above" in source.tex.split("Task 2.1")[1]
        assert source.tex.count(r"\label{thm:chinchilla-allocation}") == (source is solutions)
    assert r"\textbf{Questions:}" in student.tex and "Derivation" not in student.tex
    assert "Derivation" in solutions.tex and solutions.ok


def test_sheet_numbers_follow_the_course():
    numbers = [e.number for e in EXERCISES]
    assert numbers == [f"1.{i}" for i in range(1, 11)] + ["2.1", "2.2", "2.3"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("latexmk") is None, reason="LaTeX (latexmk) is not installed")
@pytest.mark.started_early(("render", "--sheet", "exercises", "--instances", "50", "-o", "sheet.pdf"))
def test_render_sheet_writes_the_sheet_and_its_solutions(early_run):
    # Started when the suite is collected, it runs beside the other tests (tests/conftest.py).
    ((run, folder),) = early_run
    assert run.returncode == 0, run.stderr
    for name in ("sheet.pdf", "sheet-solutions.pdf"):
        assert (folder / name).read_bytes().startswith(b"%PDF")


def test_sheet_takes_no_ids(cli, tmp_path):
    run = cli("render", "lsa-gd", "--sheet", "exercises", "-o", tmp_path / "s.tex")
    assert run.returncode == 2 and "--sheet" in run.stderr


def test_data_must_be_a_file(cli, tmp_path):
    run = cli("render", "lsa-gd", "--data", tmp_path / "missing.csv", "-o", tmp_path / "s.tex")
    assert run.returncode == 2 and "--data" in run.stderr
