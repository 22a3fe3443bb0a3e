"""The ONE place the real control plane's versions are pinned (read by the build and the docs).

Kubernetes: the newest stable release on the Go module proxy that builds with the machine's Go
(`GOTOOLCHAIN=local`); etcd: the newest 3.6 patch release.
"""

KUBERNETES = "v1.37.2"
ETCD = "v3.6.16"
