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
