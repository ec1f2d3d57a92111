"""numerics.threads: the one helper that runs torch on one thread."""

from pathlib import Path

import pytest
import torch

from numerics.threads import one_torch_thread

ROOT = Path(__file__).resolve().parents[2]


def test_one_thread_inside_and_the_callers_setting_restored_even_on_error():
    before = torch.get_num_threads()
    with one_torch_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), one_torch_thread():
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_no_module_keeps_its_own_copy():
    setters = {
        str(path.relative_to(ROOT))
        for package in ("numerics", "checkers")
        for path in (ROOT / package).rglob("*.py")
        if "set_num_threads" in path.read_text()
    }
    assert setters == {"numerics/threads.py"}
