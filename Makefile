# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COLLECTION := $(VENV)/collections/ansible_collections/backupready/windows
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(VENV)/collections
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup demo test unit lint static build clean

setup: $(STAMP) $(COLLECTION)

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(COLLECTION):
	mkdir -p $(dir $(COLLECTION))
	ln -sfn $(CURDIR) $(COLLECTION)

demo: setup
	$(BIN)/ansible-playbook -i examples/fleet/inventory.yml backupready.windows.assess -e backupready_gate=false -e backupready_waivers_file=examples/fleet/waivers.yml

test: setup
	$(BIN)/python -m pytest

build: setup
	mkdir -p build
	$(BIN)/ansible-galaxy collection build --force --output-path build .

clean:
	rm -rf $(VENV) build .pytest_cache
