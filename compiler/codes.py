"""Every diagnostic code: its severity, the stage that finds it, and a one-line title.

tests/language/test_codes.py checks that every code written in compiler/ and targets/ is
registered here and that README.md's "Error codes" table is `markdown_table()`.
Stages: read (loading the file), schema, reference and lifecycle (rules over the IR),
secret, format (normalizing values), input (checks over the document that also run when the
schema found errors: numbers, strings, paths, names), compile (a target), plan, cost (the budget
gate), usage.
"""

from __future__ import annotations

from typing import NamedTuple


class Code(NamedTuple):
    severity: str  # error | warning
    stage: str
    title: str


CODES: dict[str, Code] = {
    "E101": Code("error", "read", "invalid YAML (syntax, several documents, a key that is not a plain string)"),
    "E102": Code("error", "read", "aliases expand to too many values (a YAML bomb)"),
    "E103": Code("error", "read", "the file is not UTF-8 text"),
    "E104": Code("error", "read", "the file is larger than 5 MB"),
    "E105": Code("error", "read", "the spec is empty"),
    "E106": Code("error", "read", "the spec is not a mapping"),
    "E107": Code("error", "read", "the YAML nests too deeply"),
    "E108": Code("error", "read", "an unsupported YAML tag or merge key"),
    "E109": Code("error", "read", "a duplicate key (both lines named)"),
    "E200": Code("error", "schema", "a schema violation without a more specific code"),
    "E201": Code("error", "schema", "an unknown key (with did-you-mean)"),
    "E202": Code("error", "schema", "a required key is missing"),
    "E203": Code("error", "schema", "a value has the wrong type"),
    "E204": Code("error", "schema", "a value is not one of the allowed values"),
    "E205": Code("error", "schema", "a value or key name has the wrong form"),
    "E206": Code("error", "schema", "a number is out of range"),
    "E207": Code("error", "schema", "a list or mapping has too few or too many items"),
    "E208": Code("error", "schema", "a key does not apply here (e.g. to this rollout strategy)"),
    "E301": Code("error", "reference", "an unknown dataset, column, entity, metric, environment or route"),
    "E302": Code("error", "reference", "`schema_from` forms a cycle"),
    "E303": Code("error", "reference", "drift has no columns to watch"),
    "E304": Code("error", "reference", "a gateway route defined twice, falling back to itself, or in a fallback cycle"),
    "E401": Code("error", "lifecycle", "canary steps missing, not increasing, or not ending at 100"),
    "E402": Code("error", "lifecycle", "a shadow strategy without `sample` or an ab_test without `split`"),
    "E403": Code("error", "lifecycle", "`min_replicas` is greater than `max_replicas`"),
    "E404": Code("error", "lifecycle", "spot `max_wait` is shorter than `max_runtime`"),
    "E405": Code("error", "lifecycle", "a production environment without an evaluation gate"),
    "E406": Code("error", "lifecycle", "a production environment without rollback rules"),
    "E407": Code("error", "lifecycle", "an LLM part needs another: `monitoring.evals` without `evals.suite`, a self-hosted route without `llm.serving`"),
    "E501": Code("error", "secret", "a value that looks like a credential (never echoed)"),
    "E502": Code("error", "secret", "a secret-named key without a `${secret:NAME}` reference"),
    "E601": Code("error", "format", "an invalid cron expression"),
    "E602": Code("error", "format", "an invalid duration"),
    "E603": Code("error", "format", "an invalid size"),
    "E604": Code("error", "format", "an invalid cpu amount"),
    "E620": Code("error", "input", "a number is not finite (NaN or infinity)"),
    "E621": Code("error", "input", "a number beyond what the targets accept (duration, CPUs, memory, GPUs, replicas)"),
    "E622": Code("error", "input", "bounds out of order (`min` above `max`, a backwards range, more parallel than total trials)"),
    "E623": Code("error", "input", "settings that contradict each other"),
    "E624": Code("error", "input", "a control character or line break in a value that reaches generated files"),
    "E625": Code("error", "input", "an invisible character (named with its code point and column)"),
    "E626": Code("error", "input", "a value that does not fit where it lands (e.g. `image.base` is not an image reference)"),
    "E627": Code("error", "input", "a path that leaves the repository (`..` above its root, `~`, absolute)"),
    "E628": Code("error", "reference", "two environments get the same resource name on a target (after its naming rules)"),
    "E629": Code("error", "reference", "a resource name longer than a target allows"),
    "E701": Code("error", "compile", "a target cannot express part of the spec (that target writes nothing)"),
    "W702": Code("warning", "compile", "a target handles part of the spec differently"),
    "E703": Code("error", "compile", "a cloud target's required setting is missing"),
    "E799": Code("error", "plan", "a target failed while `plan` compiled the spec"),
    "E801": Code("error", "cost", "the monthly cost estimate exceeds `cost.budget_monthly_usd` on a target"),
    "W802": Code("warning", "cost", "the monthly cost estimate exceeds `cost.alert_at` of the budget on a target"),
    "W803": Code("warning", "cost", "a price table is older than its set age (180 days)"),
    "E804": Code("error", "cost", "`cost.prices` names a file that cannot be read or has the wrong shape"),
    "E901": Code("error", "usage", "the spec file is missing or unreadable"),
    "E910": Code("error", "plan", "`plan` without git, or outside a git repository"),
    "E911": Code("error", "plan", "`plan` cannot read the base revision"),
    "E912": Code("error", "plan", "`plan` cannot tell the default branch"),
}


def markdown_table() -> str:
    """README.md's "Error codes" table."""
    rows = ["| code | severity | stage | meaning |", "|---|---|---|---|"]
    rows += [f"| {code} | {c.severity} | {c.stage} | {c.title} |" for code, c in CODES.items()]
    return "\n".join(rows) + "\n"
