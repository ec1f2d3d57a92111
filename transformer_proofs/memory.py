"""Freed arrays back to the operating system while a long command runs.

glibc's allocator serves large blocks (from 128 KB) with ``mmap`` and gives them back when they
are freed, but it raises that threshold to the size of each large block freed (up to 32 MB), so
after the first theorems the arrays of the next ones come from its heap, which keeps freed memory
resident: ``verify --all`` held about 60 to 110 MB more than it used. Fixing the threshold turns
that adjustment off. Only the command line and its worker processes call this; a program that
imports the package keeps its allocator as it was.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 128 * 1024  # glibc's default, kept fixed


def return_freed_arrays() -> None:
    """Serve every block of :data:`MMAP_THRESHOLD` bytes or more with ``mmap`` from now on (glibc only;
    elsewhere, nothing)."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):
        pass  # not glibc: its allocator has a policy of its own
