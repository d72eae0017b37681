# The two commands of the README: `make demo` and `make test`. Both set up .venv first: `make demo` with what the
# collection needs to run (requirements.txt), `make test` with the development tools too (requirements-dev.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed
COLLECTION := $(VENV)/collections/ansible_collections/backupready/windows
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(VENV)/collections
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup setup-runtime demo test matrix matrix-oldest matrix-newest build clean

setup: $(STAMP) $(COLLECTION)

setup-runtime: $(RUNTIME_STAMP) $(COLLECTION)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# ansible-core and the connection libraries: all the demo and a controller need.
$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# requirements-dev.txt includes requirements.txt.
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(RUNTIME_STAMP)

$(COLLECTION):
	mkdir -p $(dir $(COLLECTION))
	ln -sfn $(CURDIR) $(COLLECTION)

demo: setup-runtime
	$(BIN)/ansible-playbook -i examples/fleet/inventory.yml backupready.windows.assess -e backupready_gate=false -e backupready_waivers_file=examples/fleet/waivers.yml

# pytest prints a line of progress per test file. The molecule scenarios (several minutes each, silent while they
# run) come last, one line per scenario as it starts. Nothing outside the checkout and the system's temporary
# folder is written: no test installs into, or removes from, ~/.ansible/collections.
test: setup
	@echo "make test: the unit, static and playbook tests, then the molecule scenarios, then the ansible-core" \
	    "matrix; about 15 minutes on two cores, a third of it the matrix"
	$(BIN)/python -m pytest --ignore=tests/molecule
	$(BIN)/python -m pytest -v tests/molecule
	$(MAKE) --no-print-directory --jobs=2 --output-sync=target matrix

# The ansible-core version matrix: the unit and playbook tests again on the oldest supported ansible-core (Python
# 3.11) and on the newest released (Python 3.12, which ansible-core 2.20+ needs), each in a venv under .venv/matrix
# pinned by tests/matrix/<entry>.txt; make test runs the two at once. (The HTML screenshot, ansible-builder and CI-example
# tests do not depend on this ansible-core: the CI example installs its own pinned one.)
# The first Python 3.12 that runs: pyenv's (its shim may not be active), else one on PATH.
PYTHON_NEWEST ?= $(shell for p in $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $$(command -v python3.12); \
	do "$$p" -c '' 2>/dev/null && { echo "$$p"; break; }; done)
MATRIX_PYTEST := -m pytest tests/unit tests/playbook -p no:cacheprovider -q \
	--ignore=tests/playbook/test_report_browser.py --ignore=tests/playbook/test_execution_environment.py \
	--ignore=tests/playbook/test_ci_examples.py
matrix: matrix-oldest matrix-newest

matrix-oldest: setup $(VENV)/matrix/oldest/.installed
	BACKUPREADY_EXPECT_ANSIBLE_CORE=$$(sed -n 's/^ansible-core==//p' tests/matrix/oldest.txt) \
	PATH=$(CURDIR)/$(VENV)/matrix/oldest/bin:$$PATH $(VENV)/matrix/oldest/bin/python $(MATRIX_PYTEST)

matrix-newest: setup $(VENV)/matrix/newest/.installed
	BACKUPREADY_EXPECT_ANSIBLE_CORE=$$(sed -n 's/^ansible-core==//p' tests/matrix/newest.txt) \
	PATH=$(CURDIR)/$(VENV)/matrix/newest/bin:$$PATH $(VENV)/matrix/newest/bin/python $(MATRIX_PYTEST)

$(VENV)/matrix/oldest/.installed: tests/matrix/oldest.txt requirements.txt tests/unit/requirements.txt
	rm -rf $(dir $@) && $(PYTHON) -m venv $(dir $@)
	$(dir $@)bin/python -m pip install --quiet -r tests/matrix/oldest.txt
	touch $@

$(VENV)/matrix/newest/.installed: tests/matrix/newest.txt requirements.txt tests/unit/requirements.txt
	@test -n "$(PYTHON_NEWEST)" || { echo "Python 3.12 is needed for the newest ansible-core: set PYTHON_NEWEST" >&2; exit 1; }
	rm -rf $(dir $@) && $(PYTHON_NEWEST) -m venv $(dir $@)
	$(dir $@)bin/python -m pip install --quiet -r tests/matrix/newest.txt
	touch $@

build: setup
	mkdir -p build
	$(BIN)/ansible-galaxy collection build --force --output-path build .

clean:
	rm -rf $(VENV) build .pytest_cache
