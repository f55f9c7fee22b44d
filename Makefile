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

# The formula on every supported Salt series: one venv per series (.venv-salt3006/ ...,
# built from .ci/salt-<series>.txt on $(PYTHON), kept across runs, reinstalled when its pin file
# changes, rebuilt when its pip is missing), each running SALT_TESTS: the formula applied, re-applied with no
# change, refused pillar (the key named, nothing applied) through salt-call, and a real master
# and minion. NETFLOW_SALT_SERIES lets the tests check that the series' Salt ran them. Every
# series runs; the target fails if any failed.
SALT_SERIES ?= 3006 3007 3008
SALT_TESTS  ?= tests/functional/formula/test_formula.py tests/functional/formula/test_formula_typo.py \
	tests/functional/formula/test_formula_refused.py tests/integration/test_netgraph_daemons.py \
	tests/integration/test_pillar_refused.py
# TOFS (a rc.d script per minion or pillar) is Salt's file.managed source list, the same on every
# series, and the slowest test of the sequence: left to `make test`.
SALT_PYTEST_ARGS ?= --deselect tests/functional/formula/test_formula.py::test_tofs_overrides_the_rc_script_per_minion_and_per_pillar

.venv-salt%/.installed: .ci/salt-%.txt
	test -x .venv-salt$*/bin/pip || { rm -rf .venv-salt$*; $(PYTHON) -m venv .venv-salt$*; }
	.venv-salt$*/bin/python -m pip install -q -r .ci/salt-$*.txt
	touch $@

.PHONY: test-salts
test-salts: $(foreach s,$(SALT_SERIES),.venv-salt$(s)/.installed)
	@failed=; for s in $(SALT_SERIES); do \
	  echo "== Salt $$s: $$(.venv-salt$$s/bin/salt-call --version)"; \
	  NETFLOW_SALT_SERIES=$$s .venv-salt$$s/bin/python -m pytest -q -n $(or $(JOBS),auto) --dist loadgroup $(SALT_PYTEST_ARGS) $(SALT_TESTS) \
	    || failed="$$failed $$s"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-salts failed on Salt:$$failed" >&2; exit 1; fi

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
	rm -rf .venv-salt3006 .venv-salt3007 .venv-salt3008
