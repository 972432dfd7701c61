# batch-video: `make demo` runs the demo batch, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export BATCH_VIDEO_DATA_DIR ?= $(CURDIR)/data
export BATCH_VIDEO_OUTPUT_DIR ?= $(CURDIR)/output
# Offline voice by default in a checkout; set auto (Edge, falling back to espeak) or edge for neural voices.
export BATCH_VIDEO_TTS_PROVIDER ?= espeak
# The demo's videos carry the bundled music bed (synthesized by scripts/make_sample_music.py); tests set their own.
demo dev cluster-demo: export BATCH_VIDEO_MUSIC_PATH ?= $(CURDIR)/batch_video/sample/music

.PHONY: demo dev cluster-demo test setup system-deps test-deps bench bench-feed bench-batch bench-demo bench-scale clean

demo: setup
	$(PY) scripts/demo.py

# The UI (dagster dev) and the local profile's run worker, until Ctrl-C.
dev: setup
	$(PY) scripts/dev.py

# The sample batch on the cluster profile: PostgreSQL, Redis, an S3 server and two run workers on this machine.
cluster-demo: setup
	$(PY) scripts/cluster_demo.py

# Starts the services the tests need (PostgreSQL, Redis, S3), stopping with a clear message if one cannot start.
test: setup test-deps
	PY=$(PY) scripts/run_tests.sh $(PYTEST_ARGS)

bench: setup
	$(PY) scripts/bench_render.py

bench-feed: setup
	$(PY) scripts/bench_feed.py

# Launch latency and overhead on the local profile, then the overhead of both profiles side by side.
bench-batch: setup
	$(PY) scripts/bench_batch.py
	$(PY) scripts/bench_profiles.py

bench-demo: setup
	$(PY) scripts/bench_demo.py

bench-scale: setup
	$(PY) scripts/bench_scale.py

setup: system-deps $(VENV)/.installed

system-deps:
	@scripts/install_system_deps.sh

test-deps:
	@scripts/install_system_deps.sh --test

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,cluster]"
	touch $@


clean:
	rm -rf data output .dagster_home .bench .cluster-demo test-artifacts
