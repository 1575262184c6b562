# hybrid.identity: everything runs from here. `make` builds its own virtual
# environments; nothing is assumed installed beyond Python, make and apt.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PY_NEWEST  ?= $(shell .ci/find-python 3.13 3.12)
PY_OLDEST  ?= $(shell .ci/find-python 3.11)
CORE_NEWEST ?= ansible-core>=2.21,<2.22
CORE_OLDEST ?= ansible-core>=2.19,<2.20

VENV        := .venv
VENV_OLDEST := .venv-2.19
# ansible-test installs its own pinned tools; keep them apart from .venv.
VENV_SANITY := .venv-sanity
BIN         := $(VENV)/bin
BUILD       := .build
# Collections path whose ansible_collections/hybrid/identity points at this tree.
COLLECTIONS := $(BUILD)/collections
LINK        := $(COLLECTIONS)/ansible_collections/hybrid/identity
# The directory_sync role calls ansible.windows: taken from the `ansible` package's wheel.
WINDOWS     := $(COLLECTIONS)/ansible_collections/ansible/windows/MANIFEST.json

export HYBRID_LAB_DIR ?= $(CURDIR)/.lab
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PATH := $(CURDIR)/$(BIN):$(PATH)
LAB := $(BIN)/python -m tests.lab

.PHONY: help venv venv-oldest link lab-up lab-down lab-status lab-load demo test \
        sanity sanity-newest sanity-oldest units integration lint ruff ansible-lint \
        changelog-lint changelog tarball wheelhouse ee docsite bench clean

help:
	@echo "make demo         set up, start the lab and run the main job on it"
	@echo "make test         sanity, unit, integration tests and linters (what CI runs)"
	@echo "make lab-up | lab-down | lab-status | lab-load SCENARIO=FILE"
	@echo "make units | integration | sanity | lint | bench"
	@echo "make tarball      build the collection tarball into build/"
	@echo "make ee           the build context of an execution environment with the collection (build/ee-context)"
	@echo "make docsite      the antsibull-docs site with the guides and playbooks (build/docsite/site/build/html)"
	@echo "make changelog    fold the fragments into the release changelog (CHANGELOG.rst)"

# --- environments -----------------------------------------------------------------

$(VENV)/.stamp: requirements.txt tests/requirements.txt
	@test -n "$(PY_NEWEST)" || { echo "Python 3.13 or 3.12 is needed" >&2; exit 1; }
	@# gssapi (tests/requirements.txt) has no Linux wheel: it builds against MIT Kerberos' headers.
	@dpkg -s libkrb5-dev >/dev/null 2>&1 || { echo "installing libkrb5-dev with apt-get (gssapi builds against it)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libkrb5-dev >/dev/null; }
	$(PY_NEWEST) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip
	$(BIN)/pip install -q --disable-pip-version-check '$(CORE_NEWEST)' -r requirements.txt -r tests/requirements.txt
	touch $@

$(VENV_OLDEST)/.stamp: requirements.txt
	@test -n "$(PY_OLDEST)" || { echo "Python 3.11 is needed" >&2; exit 1; }
	$(PY_OLDEST) -m venv $(VENV_OLDEST)
	$(VENV_OLDEST)/bin/pip install -q --disable-pip-version-check -U pip
	$(VENV_OLDEST)/bin/pip install -q --disable-pip-version-check '$(CORE_OLDEST)' -r requirements.txt
	touch $@

$(VENV_SANITY)/.stamp:
	$(PY_NEWEST) -m venv $(VENV_SANITY)
	$(VENV_SANITY)/bin/pip install -q --disable-pip-version-check '$(CORE_NEWEST)'
	touch $@

venv: $(VENV)/.stamp link $(WINDOWS)

$(WINDOWS): | $(VENV)/.stamp
	$(BIN)/python .ci/bundled-collection.py ansible.windows $(COLLECTIONS) $(BUILD)/wheels
venv-oldest: $(VENV_OLDEST)/.stamp

link:
	@mkdir -p $(dir $(LINK))
	@[ -L $(LINK) ] || ln -sfn $(CURDIR) $(LINK)

# --- the lab ----------------------------------------------------------------------

lab-up: venv
	$(LAB) up

lab-down: venv
	$(LAB) down

lab-status: venv
	$(LAB) status

lab-load: venv
	@test -n "$(SCENARIO)" || { echo "usage: make lab-load SCENARIO=tests/lab/scenarios/FILE.yml" >&2; exit 2; }
	$(LAB) load $(SCENARIO)

# --- the main job -----------------------------------------------------------------

demo: lab-up
	$(LAB) load tests/lab/scenarios/demo.yml
	$(BIN)/ansible-playbook -e @$(HYBRID_LAB_DIR)/lab_vars.yml -e demo_report_dir=$(HYBRID_LAB_DIR)/reports \
	  -e demo_journal_path=$(HYBRID_LAB_DIR)/journal/smtp_align.jsonl playbooks/demo.yml

# --- tests ------------------------------------------------------------------------

# Sanity runs in the background while the unit and integration tests run: the integration tests
# spend much of their time waiting on the lab (rate limits, sync cycles), and sanity on the CPU.
test: lint $(VENV_OLDEST)/.stamp $(VENV_SANITY)/.stamp
	@mkdir -p build; status=0; \
	$(MAKE) --no-print-directory sanity > build/sanity.log 2>&1 & sanity=$$!; \
	$(MAKE) --no-print-directory units integration || status=1; \
	wait $$sanity || status=1; cat build/sanity.log; \
	exit $$status

units: venv
	$(BIN)/python -m pytest -q tests/unit

integration: lab-up wheelhouse
	$(BIN)/python -m pytest -q tests/integration

# Each runs ansible-test on a copy of the collection (see .ci/sanity). `make sanity` runs the two at
# once (each is mostly one process) and prints their logs one after the other.
sanity: $(VENV_OLDEST)/.stamp $(VENV_SANITY)/.stamp
	@mkdir -p build; status=0; \
	.ci/sanity $(VENV_OLDEST) > build/sanity-oldest.log 2>&1 & oldest=$$!; \
	.ci/sanity $(VENV_SANITY) > build/sanity-newest.log 2>&1 & newest=$$!; \
	wait $$oldest || status=1; echo "== sanity, ansible-core 2.19"; cat build/sanity-oldest.log; \
	wait $$newest || status=1; echo "== sanity, newest ansible-core"; cat build/sanity-newest.log; \
	exit $$status

sanity-newest: $(VENV_SANITY)/.stamp
	.ci/sanity $(VENV_SANITY)

sanity-oldest: $(VENV_OLDEST)/.stamp
	.ci/sanity $(VENV_OLDEST)

lint: ruff ansible-lint changelog-lint

ruff: venv
	$(BIN)/ruff check .

ansible-lint: venv
	$(BIN)/ansible-lint --offline $(wildcard roles playbooks)

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

# The release changelog of the version in galaxy.yml: new fragments are added to it, edited ones refreshed.
changelog: venv
	$(BIN)/antsibull-changelog release --update-existing --refresh-fragments

tarball: venv
	@mkdir -p build
	$(BIN)/ansible-galaxy collection build --force --output-path build

# Wheels of ansible-core, requirements.txt and the execution environment's Python requirements, for
# tests/integration/test_install.py and test_execution_environment.py: they install them into fresh virtual
# environments without a package index (the lab's network namespace has none). gssapi has no Linux wheel:
# pip builds one against libkrb5-dev, which the venv step installs.
wheelhouse: $(BUILD)/wheelhouse/.stamp
$(BUILD)/wheelhouse/.stamp: requirements.txt meta/ee-requirements.txt | $(VENV)/.stamp
	$(BIN)/pip download -q --disable-pip-version-check --only-binary :all: -d $(BUILD)/wheelhouse \
	  '$(CORE_NEWEST)' -r requirements.txt
	$(BIN)/pip wheel -q --disable-pip-version-check -w $(BUILD)/wheelhouse -r meta/ee-requirements.txt
	touch $@

# The antsibull-docs site: modules, roles and plugins, the guides in docs/ and the playbooks (.ci/docsite.py).
docsite: venv
	$(BIN)/python .ci/docsite.py build/docsite

# The build context of an execution environment with this collection (tests/ee/execution-environment.yml;
# building the image itself needs podman or docker: ansible-builder build -f ... -t NAME).
ee: venv
	$(BIN)/ansible-builder create -f tests/ee/execution-environment.yml -c build/ee-context


# The predictor alone (time and memory targets), then soft_match_check, smtp_align and directory_sync_verify
# end to end through ansible-playbook against the lab, as ratios to the floor measured in the same run
# (tests/bench/e2e.py; --paths picks rows).
BENCH_SIZES ?= 10000 50000 100000
bench: lab-up
	$(BIN)/python -m tests.bench
	$(BIN)/python -m tests.bench.e2e --sizes $(BENCH_SIZES)

clean: lab-down
	rm -rf $(BUILD) build $(VENV) $(VENV_OLDEST) $(VENV_SANITY)
