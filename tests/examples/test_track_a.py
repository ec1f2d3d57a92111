"""examples/track_a.ipynb, executed as a user runs it: every cell runs, the checks pass, the figures show."""

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "track_a.ipynb"


def test_the_track_a_notebook_runs_and_shows_its_figures(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "".join(output.get("text", "") for output in outputs)
    assert "every check passed: True" in text and "FAILED" not in text
    assert sum("image/png" in output.get("data", {}) for output in outputs) == 4
    assert any("text/markdown" in output.get("data", {}) and "| linear-attention | 10 |" in output["data"]["text/markdown"] for output in outputs)
    assert "Q: Seed 004, 4.2 question 3" in text and "Erratum (false)" in text
    document = json.loads((tmp_path / "track_a_small" / "metrics.json").read_text())
    assert document["ok"] and document["config"]["k"] == 10
