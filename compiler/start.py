"""The `mlopsc` entry point: `validate` and `compile` in their plain forms run without importing
click (~40 ms, plus the other commands' modules it registers); anything else — help, another
command, an unusual option spelling, an error in the options — goes to the click command line
(`cli.py`), which stays the public interface. Both run the same bodies (`commands_compile`), so
output and exit codes are the same (tests/language/test_start.py compares them)."""

from __future__ import annotations

import errno
import importlib
import os
import sys
from collections.abc import Callable
from types import ModuleType

FORMATS = ("text", "json", "github")  # diagnostics.FORMATS, without importing it before it is needed
COMPILE_VALUES = {"--target": "target", "-t": "target", "--out": "out_dir", "-o": "out_dir", "--format": "fmt"}
COMPILE_FLAGS = {"--check": "check", "--strict": "strict"}


def split_option(token: str, args: list[str]) -> tuple[str, str | None]:
    """`--name=value` or `--name value` (taking the value from `args`); value None when missing or option-like."""
    name, sep, value = token.partition("=")
    if not sep:
        value = args.pop(0) if args else ""
    return name, value if value and not value.startswith("-") else None


def plain_validate(args: list[str]) -> dict | None:
    """`validate FILE... [--format F]` as click would parse it; None for anything else."""
    files, fmt = [], []
    while args:
        token = args.pop(0)
        if not token.startswith("-"):
            files.append(token)
            continue
        name, value = split_option(token, args)
        if name != "--format" or value not in FORMATS or fmt:
            return None
        fmt.append(value)
    if not files or any(not f or os.path.isdir(f) for f in files):
        return None  # click reports the usage error
    return {"files": files, "fmt": fmt[0] if fmt else "text"}


def plain_compile(args: list[str]) -> dict | None:
    """`compile FILE --target T [--out D] [--check] [--strict] [--format F]`; None for anything else."""
    options: dict = {"out_dir": "build", "check": False, "strict": False, "fmt": "text"}
    files, seen = [], set()
    while args:
        token = args.pop(0)
        if not token.startswith("-"):
            files.append(token)
        elif token in COMPILE_FLAGS and token not in seen:
            options[COMPILE_FLAGS[token]] = True
        else:
            name, value = split_option(token, args)
            key = COMPILE_VALUES.get(name)
            if key is None or value is None or key in seen or (key == "fmt" and value not in FORMATS):
                return None
            options[key] = value
            token = key
        seen.add(token)
    if len(files) != 1 or "target" not in options or not files[0] or os.path.isdir(files[0]) \
            or os.path.isfile(options["out_dir"]):
        return None
    return {"file": files[0], **options}


def fast_command(argv: list[str]) -> Callable[[], int] | None:
    """The command to run without click, or None."""
    if not argv or any(k.startswith("_MLOPSC") and k.endswith("_COMPLETE") for k in os.environ):
        return None  # shell completion is click's
    name, args = argv[0], list(argv[1:])
    if name == "validate" and (parsed := plain_validate(args)) is not None:
        defer_inspect()
        from .commands_compile import validate_files

        return lambda: validate_files(parsed["files"], parsed["fmt"])
    if name == "compile" and (parsed := plain_compile(args)) is not None:
        defer_inspect()  # (an unknown target then goes to click, which loads inspect on first use)
        from .commands_compile import UnknownTarget, check_target, compile_file

        try:
            check_target(parsed["target"])
        except UnknownTarget:
            return None  # click says so, as a usage error
        return lambda: compile_file(**parsed)
    return None


def run(command: Callable[[], int]) -> int:
    """Run it with click's handling of Ctrl-C and a closed output pipe."""
    try:
        return command()
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        print("Aborted!", file=sys.stderr, flush=True)
        return 1
    except OSError as e:
        if e.errno != errno.EPIPE:
            raise
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (nothing more can be written)
        return 1


class DeferredModule(ModuleType):
    """Stands in sys.modules for a module until an attribute of it is read, then imports the real
    one and forwards to it. (importlib's LazyLoader cannot do this on 3.11: the `import` statement
    itself reads `__spec__`, which loads the module.)"""

    def __getattr__(self, name: str):
        real = sys.modules.get(self.__name__)
        if real is self or real is None:
            del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
        return getattr(real, name)


def defer_inspect() -> None:
    """`dataclasses` imports `inspect` (~6.5 ms: ast, dis, tokenize) for one use, a docstring for
    a class that has none, which the compile path's classes never need; it loads on first use."""
    if "inspect" not in sys.modules:
        stub = DeferredModule("inspect")
        stub.__spec__ = None  # read by `import inspect`; None: not being initialised
        sys.modules["inspect"] = stub


def main() -> None:
    import gc

    # A short process that builds no garbage cycles worth collecting: no collector passes over
    # the objects its imports create (compile pauses the collector anyway while it emits).
    was_enabled = gc.isenabled()
    gc.disable()
    command = fast_command(sys.argv[1:])
    if command is None and was_enabled:
        gc.enable()
    if command is None:
        from .cli import main as click_main

        click_main()
        return
    leave(run(command))


def leave(code: int) -> None:
    """End the process once its output is flushed, without tearing down the interpreter: freeing
    every module and object of a finished compile costs ~10 ms, and nothing of the fast path needs
    atexit (its files are written and closed by then). A flush that fails exits as click would."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        code = code or 1
    os._exit(code)
