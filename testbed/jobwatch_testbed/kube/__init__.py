"""The real control plane on loopback, built from Kubernetes Go modules (`make kube`)."""
