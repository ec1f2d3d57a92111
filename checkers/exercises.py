"""The exercises of the course's practice sheet (seed 003), in the project's own words, and the theorems answering them.

An exercise is covered when a registered theorem answers it; its worked example is the
answer and the theorem's checks are its verification. ``render --sheet exercises``
builds the student sheet and the solution sheet from this list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Exercise:
    """An exercise: its number on the sheet, a title, the task in our words, and the theorem that answers it."""

    number: str
    title: str
    wording: str
    theorem_id: str | None = None

    @property
    def kind(self) -> str:
        """The sheet's own name for it: its section 1 holds exercises, section 2 coding tasks."""
        return "Exercise" if self.number.startswith("1.") else "Task"


SHEET_SOURCE = "seed 003, Topic 10: Practice and Exercises"

EXERCISES = (
    Exercise(
        "1.1",
        "Permutation equivariance",
        r"Show that self-attention without positional information commutes with permuting the tokens: "
        r"$\mathrm{Attn}(P_\sigma X) = P_\sigma \mathrm{Attn}(X)$, the attention weights becoming "
        r"$A_{\sigma(i)\sigma(j)}$.",
        "permutation-equivariance",
    ),
    Exercise(
        "1.2",
        "The variance of attention logits",
        r"For independent $q, k \in \mathbb{R}^d$ with standard normal entries, find the mean and variance of "
        r"$q \cdot k$ and explain the factor $1/\sqrt{d}$ in front of the softmax.",
        "softmax-variance",
    ),
    Exercise(
        "1.3",
        "The rank of an attention layer",
        r"Bound the rank of a single head's output $Z$ in terms of $n$, $d_k$ and $d_v$, and say what changes "
        r"with $H$ heads.",
        "attention-rank",
    ),
    Exercise(
        "1.4",
        "Linear attention as gradient descent",
        r"Find the learning rate for which $O = x_{\mathrm{test}}^\top X^\top Y$ is one gradient step on "
        r"$\tfrac12 \|XW - Y\|^2$ from $W = 0$, and say what softmax attention computes instead.",
        "linear-attention-gd",
    ),
    Exercise(
        "1.5",
        "The Chinchilla frontier",
        r"With $C = 6ND$ and $D = 20N$, find the parameters $N$ and tokens $D$ for $C = 1.2 \times 10^{24}$ FLOPs.",
        "chinchilla-frontier",
    ),
    Exercise(
        "1.6",
        "Geometry of sinusoidal encodings",
        r"Show that the encoding at position $pos + k$ is a fixed linear map of the encoding at $pos$, and "
        r"say what this means for attending to relative positions.",
        "pe-rotation",
    ),
    Exercise(
        "1.7",
        "The rank-collapse rate",
        r"From $\|H^{(\ell)} - \mathbf{1} v^\top\| \le C e^{-\lambda \ell}$, find the largest rate $\lambda$ that "
        r"still keeps a tenth of the initial deviation after 12 layers.",
        "rank-collapse-rate",
    ),
    Exercise(
        "1.8",
        "The induction-head circuit",
        r"Write the query of the second head of an induction circuit that reads the first head's output, and "
        r"explain why the circuit cannot work on a sequence of length one.",
    ),
    Exercise(
        "1.9",
        "Johnson-Lindenstrauss for retrieval",
        r"How many dimensions $d \ge 8 \ln(m) / \varepsilon^2$ keep the distances of $m = 10^{12}$ documents "
        r"within $\varepsilon = 0.1$?",
        "jl-dimension",
    ),
    Exercise(
        "1.10",
        "Grokking and the weight norm",
        r"Explain why a smaller weight norm goes with generalisation in modular addition.",
    ),
    Exercise(
        "2.1",
        "Attention by hand",
        r"Write scaled dot-product attention with numpy alone and confirm that it is permutation equivariant.",
        "permutation-equivariance",
    ),
    Exercise(
        "2.2",
        "Finding an induction head",
        r"On the sequence $[1, 2, 3, 1, 2, ?]$ find the head that attends most to the 3 from the second 2.",
    ),
    Exercise(
        "2.3",
        "Rank collapse in deep attention",
        r"Pass a random input through 50 layers of pure attention with random weights and plot the singular "
        r"values at layers 1, 10, 25 and 50.",
        "rank-collapse",
    ),
)
