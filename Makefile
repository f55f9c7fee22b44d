# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv if missing and install the project with its test extras.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test unit bench soak lint clean venv

# A make interrupted while it created the venv leaves one without pip, and every later make
# would fail with "No module named pip": a venv whose pip does not answer is made again.
VENV_OK = $(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)

$(STAMP): setup.cfg pyproject.toml
	$(VENV_OK)
	$(PY) -m pip install -q --upgrade pip
	# salt is pinned to the 3008 series we test on; setup.cfg allows >=3006.
	# The project itself is NOT installed here: tests load it from the tree (module_dirs,
	# utils_dirs, file_roots) and tests/functional/modules/test_extension.py builds and installs the
	# wheel on its own, so the salt.loader entry point is proven by that test alone.
	$(PY) -m pip install -q 'salt==3008.*' pyyaml prometheus_client setuptools wheel pytest pytest-xdist 'pytest-salt-factories>=1.0.5' salt-lint hypothesis ruff GitPython
	-$(PY) -m pip uninstall -q -y saltext-netgraph salt-netgraph 2>/dev/null
	touch $(STAMP)

# the venv alone, repaired if broken (what the first line of the bootstrap does)
venv:
	$(VENV_OK)

demo: $(STAMP)
	$(PY) demo/run.py

# The suite on every core (pytest-xdist; JOBS=N to choose); the tests that need one worker
# (the real master and minions, an ordered module, the wheel build) are grouped by path in
# tests/conftest.py's scheduler hook.
test: $(STAMP)
	$(PY) -m pytest -q -n $(or $(JOBS),auto) --dist loadgroup

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

bench: $(STAMP)
	$(PY) bench/run.py

# The simulation suite for as long as asked: random histories until STEPS rules have run;
# a failure is shrunk, printed and stored under tests/sim/regressions/ (NFSIM_RULES=a,b limits the rules).
STEPS ?= 2000
soak: $(STAMP)
	$(PY) tests/sim/soak.py $(STEPS) --jobs $(or $(JOBS),1)

# ruff (pyproject.toml: Salt's dunders as builtins, line length 140) and salt-lint on the formula.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/salt-lint formula/netflow/*.sls formula/netflow/*/*.sls

clean:
	rm -rf $(VENV) build *.egg-info .demo
