"""examples/track_b.ipynb, executed as a user runs it: every cell runs, the network groks, the figures show."""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "track_b.ipynb"

pytest.importorskip("transformer_lens")


def test_the_track_b_notebook_groks_reads_the_circuit_and_shows_its_figures(tmp_path):
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "".join(output.get("text", "") for output in outputs)
    assert sum("image/png" in output.get("data", {}) for output in outputs) == 6
    memorised, grokked = map(int, re.search(r"training accuracy reaches 99% at epoch (\d+), validation accuracy at epoch (\d+)", text).groups())
    assert memorised < grokked
    kept, removed = (float(x) for x in re.search(r"only the key frequencies kept: +([\d.]+)\n.*removed: +([\d.]+)", text).groups())
    assert kept >= 0.99 and removed <= 0.1
    assert float(re.search(r"alpha_k cos\(w_k \(a \+ b - c\)\): ([\d.]+)", text).group(1)) >= 0.9
