"""A Docker engine and an offline base image for the container tests (marker `container`).

No image registry is reachable here, so the base image is built from Debian's packages with
debootstrap and imported (about 2 minutes, once per machine: the image is kept in the engine).
When no engine answers, the fixture starts `dockerd` without a bridge network (containers use
`--network host` and reach servers on 127.0.0.1 only) and stops it when the session ends.
scripts/test.sh installs docker.io and debootstrap; without them these tests fail, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

import pytest

BASE_IMAGE = "mlopsc-test-base:bookworm"
SOCKET = "/tmp/mlopsc-test-docker.sock"


def _answers(env: dict[str, str]) -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, env=env).returncode == 0


def _start_dockerd() -> subprocess.Popen:
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        pytest.fail("container tests need a Docker engine: run as root with docker.io installed "
                    "(scripts/test.sh installs it), or deselect them with -m 'not container'")
    data = tempfile.mkdtemp(prefix="mlopsc-dockerd-")
    log = open(os.path.join(data, "dockerd.log"), "w")  # noqa: SIM115 - closed with the daemon
    proc = subprocess.Popen(
        ["dockerd", "--bridge=none", "--iptables=false", "--host", f"unix://{SOCKET}",
         "--data-root", "/var/lib/mlopsc-test-docker", "--exec-root", os.path.join(data, "exec"),
         "--pidfile", os.path.join(data, "dockerd.pid")],
        stdout=log, stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    return proc


@pytest.fixture(scope="session")
def docker_env():
    """The environment (DOCKER_HOST) under which `docker` reaches a running engine."""
    env = dict(os.environ)
    if shutil.which("docker") and _answers(env):
        yield env
        return
    shared = {**env, "DOCKER_HOST": f"unix://{SOCKET}"}
    if shutil.which("docker") and os.path.exists(SOCKET) and _answers(shared):
        # another test session's engine: use it, and leave stopping it to that session
        os.environ["DOCKER_HOST"] = shared["DOCKER_HOST"]
        try:
            yield shared
        finally:
            os.environ.pop("DOCKER_HOST", None)
        return
    proc = _start_dockerd()
    env["DOCKER_HOST"] = f"unix://{SOCKET}"
    deadline = time.monotonic() + 60
    while not _answers(env):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"dockerd did not start (see {proc.log.name})")
        time.sleep(0.5)
    os.environ["DOCKER_HOST"] = env["DOCKER_HOST"]
    try:
        yield env
    finally:
        os.environ.pop("DOCKER_HOST", None)
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.log.close()


@pytest.fixture(scope="session")
def base_image(docker_env) -> str:
    """A Debian bookworm image with python3, built offline with debootstrap when missing."""
    have = subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True, env=docker_env)
    if have.returncode == 0:
        return BASE_IMAGE
    if shutil.which("debootstrap") is None:
        pytest.fail("building the base image needs debootstrap (scripts/test.sh installs it)")
    root = tempfile.mkdtemp(prefix="mlopsc-rootfs-")
    try:
        subprocess.run(["debootstrap", "--variant=minbase",
                        "--include=python3,python3-venv,python3-pip,ca-certificates", "bookworm", root],
                       check=True, capture_output=True)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", BASE_IMAGE], stdin=tar.stdout, check=True,
                       capture_output=True, env=docker_env)
        tar.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return BASE_IMAGE


def build_image(spec, tag: str, target: str, docker_env: dict, out) -> str:
    """`mlopsc build` as a user runs it (plus this machine's pip CA bundle and CPU torch wheel)."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-m", "mlopsc", "build", str(spec), "--target", target, "--tag", tag,
            "--constraints", str(root / "constraints.txt"), "--out", str(out)]
    if os.environ.get("PIP_CERT"):
        argv += ["--pip-cert", os.environ["PIP_CERT"]]
    if os.environ.get("PIP_FIND_LINKS"):
        argv += ["--find-links", os.environ["PIP_FIND_LINKS"]]
    proc = subprocess.run(argv, capture_output=True, text=True, env=docker_env, cwd=str(Path(spec).parent))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"built {tag}" in proc.stdout, proc.stdout
    return tag


@pytest.fixture(scope="session")
def cloud_images(docker_env, base_image, tmp_path_factory):
    """The example's step image twice: its data in S3 (Kubeflow, SageMaker) and in GCS (Vertex).
    One dependency layer serves every cloud target, so the second build reuses the first's."""
    from cloud_project import REPOSITORY, write_project

    built = {}
    for store, target in (("s3", "kubeflow"), ("gs", "vertex")):
        project = tmp_path_factory.mktemp(f"project-{store}")
        spec = write_project(project, f"{store}://acme-ml/churn", base_image)
        tag = build_image(spec, f"{REPOSITORY}:{store}", target, docker_env, project / "build" / "image")
        built[store] = (tag, spec)
    return built
