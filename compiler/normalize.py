"""Schema-valid spec data -> IR: defaults applied, units resolved, spans attached.

Runs after the schema check passed, so it may assume the shape is right, but not that
references resolve: a `schema_from` naming a missing dataset or a cycle, an unknown entity or
route all normalize to something, and the rules over the IR (compiler/rules/) report them.
Defaults come from normalize_defaults; the sections are built in normalize_data and
normalize_ops.
"""

from __future__ import annotations

from dataclasses import replace

from . import ir
from . import normalize_data as data_sections
from . import normalize_ops as ops_sections
from .diagnostics import Diagnostic, SpecError
from .loader import Document
from .normalize_context import Context
from .target_settings import from_document as targets_block


def normalize(doc: Document) -> ir.Project:
    """The whole IR, pipelines included; SpecError when a value does not parse (E601-E604)."""
    project, problems = sections(doc)
    if problems:
        raise SpecError(problems)
    return complete(project, doc)


def sections(doc: Document) -> tuple[ir.Project, list[Diagnostic]]:
    """The IR without pipelines and spec hash (the rules need neither; `complete` adds them), and
    the format problems found."""
    ctx = Context(doc)
    d = doc.data
    name = d["name"]
    data = data_sections.data(ctx, d.get("data"))
    project = ir.Project(
        api_version=d["apiVersion"],
        name=name,
        description=d.get("description", ""),
        owner=d.get("owner"),
        labels=tuple(sorted((d.get("labels") or {}).items())),
        spec_path=doc.file,
        spec_hash="",  # set by complete(): validating needs no hash, and hashlib takes ~3 ms to import
        image=data_sections.image(ctx, d.get("image") or {}),
        data=data,
        features=data_sections.features(ctx, d.get("features")),
        training=data_sections.training(ctx, d.get("training")),
        tracking=data_sections.tracking(ctx, d.get("tracking") or {}, name),
        evals=data_sections.evals(ctx, d.get("evals")),
        registry=data_sections.registry(ctx, d.get("registry") or {}, name),
        deployment=ops_sections.deployment(ctx, d.get("deployment"), (d.get("registry") or {}).get("approval")),
        monitoring=ops_sections.monitoring(ctx, d.get("monitoring"), data),
        triggers=ops_sections.triggers(ctx, d.get("triggers")),
        cost=ops_sections.cost(ctx, d.get("cost")),
        llm=ops_sections.llm(ctx, d.get("llm")),
        targets=targets_block(doc),
        span=ctx.span(()),
        labels_span=ctx.span(("labels",)) if d.get("labels") else ctx.span(()),
    )
    return project, ctx.problems


def complete(project: ir.Project, doc: Document) -> ir.Project:
    """The IR of `sections` with its spec hash and pipelines: what targets compile."""
    from .digest import sha256_hex
    from .pipelines import build_pipelines

    project = replace(project, spec_hash=sha256_hex(doc.raw))
    return replace(project, pipelines=build_pipelines(project))
