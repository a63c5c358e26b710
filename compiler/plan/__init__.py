"""`mlopsc plan`: what a change to a spec does across the lifecycle.

- `diff`: a semantic diff of two spec data trees, each change located in its file;
- `classify`: the consequence of each change (which stages re-run);
- `outputs`: the generated files that change, per registered target;
- `gitbase`: the base spec read through git (merge base with the default branch);
- `render`: text, Markdown (a pull-request comment) and JSON.

`build_plan` ties them together; the CLI in `mlopsc.commands_review` only parses options.
"""

from .model import Change, Plan, TargetDiff, build_plan

__all__ = ["Change", "Plan", "TargetDiff", "build_plan"]
