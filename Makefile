# Two commands: `make demo` (verify every theorem, refute every mutant, build the handout)
# and `make test` (the test suite). Both create the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TP := $(BIN)/transformer-proofs
LATEX_PACKAGES := latexmk texlive-latex-recommended texlive-latex-extra texlive-science lmodern

.PHONY: install demo test quick bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[bench,interp,notebooks,distributed]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(TP) verify --all
	$(TP) mutants --all
	@if command -v latexmk >/dev/null 2>&1; then \
		$(TP) render --all -o handout.pdf; \
	else \
		$(TP) render --all -o handout.tex && \
		echo "LaTeX is missing: wrote handout.tex; for handout.pdf run: apt-get install $(LATEX_PACKAGES)"; \
	fi

test: install
	$(BIN)/python -m pytest -q

quick: install
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	$(BIN)/python benchmarks/bench_verify.py
	$(BIN)/python benchmarks/bench_ssm.py ssm-bench.pdf
	$(BIN)/python benchmarks/bench_scaling_fit.py

clean:
	rm -rf $(VENV) handout.tex handout.pdf ssm-bench.pdf .pytest_cache .hypothesis
