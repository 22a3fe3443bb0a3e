"""The ONE place the real control plane's versions are pinned (read by the build and the docs).

Kubernetes: the newest stable release on the Go module proxy that builds with the machine's Go
(`GOTOOLCHAIN=local`); etcd: the newest 3.6 patch release.
"""

KUBERNETES = "v1.37.2"
ETCD = "v3.6.16"
# prometheus-operator, built from its Go module for the chart's real-API tests (ServiceMonitor and
# PrometheusRule in, generated Prometheus configuration out); its CRDs come from the same module.
PROMETHEUS_OPERATOR = "v0.85.0"
