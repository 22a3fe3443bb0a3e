"""`make kube`'s build script: the throwaway module is derived from the published go.mod, and a
missing Go toolchain is one line (an error in CI, a note with --optional elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobwatch_testbed.kube import build
from jobwatch_testbed.kube.versions import KUBERNETES

PUBLISHED = """\
module k8s.io/kubernetes

go 1.26.0

require (
	github.com/google/go-cmp v0.7.0
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0 // indirect
)

require k8s.io/kms v0.0.0

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
)
"""


def test_staging_modules_are_the_v0_0_0_requirements() -> None:
    assert build.staging_modules(PUBLISHED) == ["k8s.io/api", "k8s.io/client-go", "k8s.io/kms"]


def test_the_throwaway_module_replaces_each_with_its_published_release() -> None:
    minor = KUBERNETES.removeprefix("v1.")
    gomod = build.kube_gomod(PUBLISHED)
    assert f"require k8s.io/kubernetes {KUBERNETES}" in gomod
    assert "go 1.26.0" in gomod
    assert f"replace k8s.io/client-go => k8s.io/client-go v0.{minor}" in gomod
    assert "go-cmp" not in gomod
    assert "./staging" not in gomod


def test_the_cache_is_keyed_by_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JOBWATCH_KUBE_CACHE", str(tmp_path))
    bins = build.binaries()
    assert bins.kube_apiserver == tmp_path / KUBERNETES / "kube-apiserver"
    assert bins.etcd.parent.name.startswith("etcd-v3.6.")
    assert set(bins.missing()) == {"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"}


@pytest.mark.parametrize(("optional", "code"), [(False, 1), (True, 0)])
def test_missing_go_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    optional: bool,
    code: int,
) -> None:
    monkeypatch.setenv("JOBWATCH_KUBE_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(build, "GO_FALLBACKS", ())
    assert build.main(["--optional"] if optional else []) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "Go is not installed" in err[0]
