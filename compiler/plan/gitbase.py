"""The base version of a spec: a file, a git revision, or (by default) the merge base of HEAD
with the repository's default branch, read with `git show REV:path`."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from ..diagnostics import Diagnostic


class BaseError(Exception):
    """A usage problem finding the base (exit 2): not a git repository, unknown revision, ..."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.text())
        self.diagnostic = diagnostic


@dataclass(frozen=True)
class Base:
    raw: bytes | None  # None: the spec did not exist in the base revision
    label: str  # shown to reviewers: "main (merge base 1a2b3c4)", "v1.2", "old.yaml"
    display: str  # the file name used in diagnostics about the base spec
    revision: str | None = None  # full commit id when read through git


def _git(args: list[str], cwd: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in ("GIT_CONFIG_NOSYSTEM",)}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, env=env, check=False)
    except FileNotFoundError:
        raise BaseError(Diagnostic("<git>", 1, 1, "E910", "git is not installed",
                                   "install git, or pass the base spec as a file: --base old-mlops.yaml")) from None


def _out(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout.decode("utf-8", "replace").strip()


def repo_root(spec: str, display: str) -> str:
    directory = os.path.dirname(os.path.abspath(spec)) or "."
    proc = _git(["rev-parse", "--show-toplevel"], directory)
    if proc.returncode != 0:
        raise BaseError(Diagnostic(display, 1, 1, "E910", f"`{os.path.relpath(directory)}` is not in a git repository",
                                   "run `git init` and commit the spec, or pass the base spec as a file: "
                                   "--base old-mlops.yaml"))
    return _out(proc)


def default_branch(root: str, display: str) -> str:
    """origin/HEAD when the clone knows it, else main, master, origin/main, origin/master."""
    proc = _git(["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"], root)
    if proc.returncode == 0 and _out(proc):
        return _out(proc).removeprefix("refs/remotes/")
    for candidate in ("refs/heads/main", "refs/heads/master", "refs/remotes/origin/main", "refs/remotes/origin/master"):
        if _git(["rev-parse", "--verify", "--quiet", candidate + "^{commit}"], root).returncode == 0:
            return candidate.removeprefix("refs/heads/").removeprefix("refs/remotes/")
    raise BaseError(Diagnostic(display, 1, 1, "E912", "cannot tell the default branch: no origin/HEAD, main or master",
                               "pass the base explicitly: --base <branch or commit>"))


def resolve(root: str, rev: str, display: str) -> str:
    proc = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}"], root)
    if proc.returncode != 0:
        raise BaseError(Diagnostic(display, 1, 1, "E911", f"base `{rev}` is neither a file nor a revision in this repository",
                                   "check the name with `git log --oneline`; in CI, fetch full history "
                                   "(actions/checkout with fetch-depth: 0)"))
    return _out(proc)


def read_base(spec: str, display: str, base: str | None) -> Base:
    """The base spec for `spec` (a path on disk). `base` is a file, a revision, or None for
    the merge base of HEAD with the default branch."""
    if base is not None and os.path.isfile(base):
        with open(base, "rb") as fh:
            name = os.path.relpath(base).replace(os.sep, "/")
            return Base(fh.read(), name, name)
    root = repo_root(spec, display)
    if base is None:
        branch = default_branch(root, display)
        head = _git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], root)
        if head.returncode != 0:
            raise BaseError(Diagnostic(display, 1, 1, "E911", "the repository has no commits yet (HEAD does not exist)",
                                       "commit the spec first, or pass the base spec as a file: --base old-mlops.yaml"))
        target = resolve(root, branch, display)
        proc = _git(["merge-base", "HEAD", target], root)
        if proc.returncode != 0:
            raise BaseError(Diagnostic(display, 1, 1, "E911", f"HEAD and `{branch}` have no common ancestor",
                                       "pass the base explicitly: --base <branch or commit>"))
        commit = _out(proc)
        label = f"{branch} (merge base {commit[:7]})"
    else:
        commit = resolve(root, base, display)
        label = base if commit.startswith(base) else f"{base} ({commit[:7]})"
    rel = os.path.relpath(os.path.realpath(os.path.abspath(spec)), os.path.realpath(root)).replace(os.sep, "/")
    shown = f"{display}@{commit[:7]}"
    proc = _git(["cat-file", "-e", f"{commit}:{rel}"], root)
    if proc.returncode != 0:
        return Base(None, label, shown, commit)
    proc = _git(["show", f"{commit}:{rel}"], root)
    if proc.returncode != 0:  # pragma: no cover - cat-file said it exists
        raise BaseError(Diagnostic(display, 1, 1, "E911", f"cannot read `{rel}` at {commit[:7]}: {_out(proc)}"))
    return Base(proc.stdout, label, shown, commit)
