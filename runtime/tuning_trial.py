"""`python -m mlopsc.runtime.tuning_trial <step argv> --<name>=<value> ...`: one trial of a Vertex
HyperparameterTuningJob. Vertex appends the trial's hyperparameters as `--<name>=<value>`
arguments; they become the train step's trial hyperparameters (`MLOPSC_TRIAL_HP_<name>`, what
`actions_train.tuning_hyperparameters` reads) and the step runs with the argv before them.
`$(VAR)` in the step argv is expanded from the environment, as Kubernetes does for a Katib trial.
"""

from __future__ import annotations

import os
import re
import sys

from mlopsc.runtime.actions_train import KATIB_HP

_HP = re.compile(r"^--([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def split(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """(the step's argv, the trial's hyperparameters): the `--name=value` arguments at the end."""
    cut = len(argv)
    while cut > 0 and _HP.match(argv[cut - 1]):
        cut -= 1
    found = dict(_HP.match(a).groups() for a in argv[cut:])
    step = [_VAR.sub(lambda m: os.environ.get(m.group(1), m.group(0)), a) for a in argv[:cut]]
    return step, found


def main(argv: list[str] | None = None) -> int:
    from mlopsc.contract import parse_argv
    from mlopsc.runtime.stepmain import run_call

    step, hyperparameters = split(list(sys.argv[1:] if argv is None else argv))
    for name, value in hyperparameters.items():
        os.environ[KATIB_HP + name] = value
    return run_call(parse_argv(step))


if __name__ == "__main__":
    sys.exit(main())
