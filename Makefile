# jobwatch — every entry point a newcomer needs. `make demo` and `make test` do all setup.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV      ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PY      := .venv/bin/python
APT_PKGS := prometheus prometheus-alertmanager chromium tmux
# Tools the tests run for real. Installed from Debian when missing. kubectl comes from `make kube`.
# chromium: the status-page tests drive it through Playwright, which never downloads a browser;
# tmux: the demo test.
TOOLS   := promtool prometheus prometheus-alertmanager amtool chromium tmux
# The real control plane (versions in testbed/jobwatch_testbed/kube/versions.py), stdlib-only build.
KUBE_BUILD := PYTHONPATH=testbed python3 -m jobwatch_testbed.kube.build

# $(call install-missing,COMMANDS[,PACKAGES]): when a command is not on PATH, apt-get install
# PACKAGES (default: the missing commands, named like their packages), as root or through sudo.
install-missing = missing=""; for t in $(1); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    $(or $(2),$$missing) >/dev/null; \
	fi

.PHONY: help setup tools kube lint typecheck test demo generate check-generated bench clean

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: ## install Python dependencies from the lock file (installs uv with pip if needed)
	@command -v uv >/dev/null || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --quiet

tools: ## install Prometheus, Alertmanager, promtool, amtool, chromium and tmux from Debian when missing
	@$(call install-missing,$(TOOLS),$(APT_PKGS))

kube: ## build etcd, kube-apiserver, kube-controller-manager, kubectl and prometheus-operator from Go modules (once, cached by version)
	@$(KUBE_BUILD) $(if $(filter true 1 yes,$(CI)),,--optional)
	@PYTHONPATH=testbed python3 -m jobwatch_testbed.kube.operator $(if $(filter true 1 yes,$(CI)),,--optional)

lint: setup ## ruff, mypy --strict and the layer contracts (import-linter)
	.venv/bin/ruff check exporter testbed tests bench
	.venv/bin/ruff format --check exporter testbed tests bench
	.venv/bin/mypy
	.venv/bin/lint-imports

test: setup tools image-tools kube lint ## install everything (the control plane too), then run the whole suite
	$(PY) -m pytest -q

demo: setup tools ## the main job: sim + exporter + Prometheus + Alertmanager on this machine (Ctrl-C stops)
	.venv/bin/jobwatch demo $(DEMO_ARGS)

bench: setup ## benchmarks; writes docs/performance.md
	$(PY) -m bench

generate: setup ## re-render the committed rules, PrometheusRule, dashboard and Alertmanager example
	$(PY) -m jobwatch.render.generate

check-generated: setup ## fail if a committed generated file differs from a fresh render
	$(PY) -m pytest -q tests/rules/test_generated.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache dist

.PHONY: chart chart-test
# `make generate` writes the chart's rule and dashboard templates and its alerts' values and schema.
chart: generate ## regenerate helm/jobwatch's templates/_rules.tpl, _dashboard.tpl, alerts values and schema

chart-test: setup tools image-tools ## Helm chart lint/render/schema checks, hadolint, the image built and run
	$(PY) -m pytest -q tests/deploy

.PHONY: image image-tools
# No Docker engine needed: buildah (chroot isolation, vfs) builds the Dockerfile from a Debian
# bookworm + python3 base made with mmdebstrap and cached in ~/.cache/jobwatch-image by recipe.
image: image-tools ## build the container image localhost/jobwatch:VERSION (installs buildah, mmdebstrap)
	@bash docker/build-image.sh

# What the image tests use besides the build: skopeo and a registry to push to on loopback,
# podman and runc to run it as a real OCI runtime does.
IMAGE_PKGS := buildah mmdebstrap skopeo docker-registry podman runc
image-tools: ## install buildah, mmdebstrap, skopeo, docker-registry, podman and runc from Debian when missing
	@$(call install-missing,$(IMAGE_PKGS))
