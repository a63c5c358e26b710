"""Checks the schema cannot express: references, lifecycle rules, secrets, formats.

Runs on schema-valid data, so shapes are trusted; each rule has its own code and a test.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any

from .diagnostics import Diagnostic
from .loader import Document, Path
from .units import cpu_cores, cron, duration_seconds, size_bytes

PRODUCTION_NAMES = ("production", "prod")

_CREDENTIALS = (
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key block"),
    (re.compile(r"\bBearer\s+[A-Za-z0-9\-._~+/]{16,}=*"), "a bearer token"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"), "an API secret key"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"), "a GitHub token"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
)
_SECRET_KEY_NAMES = re.compile(r"(password|passwd|secret|token|api_key|apikey|access_key)$", re.IGNORECASE)
_REF = re.compile(r"^\$\{(secret|env):[A-Za-z_][A-Za-z0-9_./-]*\}$")

_DURATION_KEYS = {"ttl", "max_wait", "max_runtime", "interval", "duration"}
_CRON_KEYS = {"schedule"}


def check(doc: Document, *, shape_ok: bool = True) -> list[Diagnostic]:
    """Semantic problems. The secret scan reads any data; the other rules need a valid shape."""
    checker = _Checker(doc)
    checker.secrets()
    if shape_ok:
        checker.run()
    return sorted(checker.found)


def looks_like_credential(value: str) -> bool:
    return any(pattern.search(value) for pattern, _ in _CREDENTIALS)


class _Checker:
    def __init__(self, doc: Document):
        self.doc = doc
        self.d = doc.data
        self.found: list[Diagnostic] = []

    def error(self, path: Path, code: str, message: str, hint: str | None = None, *, key: bool = False) -> None:
        line, col = self.doc.source_map.locate(path, key=key)
        self.found.append(Diagnostic(self.doc.file, line, col, code, message, hint))

    def run(self) -> None:
        self.formats()
        self.references()
        self.rollout_rules()
        self.production_rules()

    # ------------------------------------------------------------ helpers

    def get(self, *path: Any) -> Any:
        node: Any = self.d
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return None
        return node

    def datasets(self) -> dict[str, Any]:
        return self.get("data", "datasets") or {}

    def schema_of(self, dataset: str) -> dict[str, Any] | None:
        """A dataset's column schema, following schema_from; None when it declares none."""
        seen = set()
        while dataset in self.datasets() and dataset not in seen:
            seen.add(dataset)
            ds = self.datasets()[dataset]
            if "schema" in ds:
                return ds["schema"] or {}
            dataset = ds.get("schema_from")
        return None

    def columns(self, dataset: str) -> set[str] | None:
        schema = self.schema_of(dataset)
        return None if schema is None else set(schema)

    def all_columns(self) -> set[str]:
        cols: set[str] = set()
        for name in self.datasets():
            cols |= self.columns(name) or set()
        for view in (self.get("features", "views") or {}).values():
            cols |= set(view.get("features") or {})
        return cols

    def resolve(self, path: Path, value: str, choices: list[str] | set[str], what: str) -> None:
        if value in choices:
            return
        close = difflib.get_close_matches(value, sorted(choices), n=1)
        if close:
            hint = f"did you mean `{close[0]}`?"
        elif choices:
            hint = f"defined {what}s: " + ", ".join(f"`{c}`" for c in sorted(choices))
        else:
            hint = f"no {what} is defined"
        self.error(path, "E301", f"unknown {what} `{value}`", hint)

    # ------------------------------------------------------------ formats

    def formats(self) -> None:
        for path, value in _walk(self.d, ()):
            key = next((p for p in reversed(path) if isinstance(p, str)), "")
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                continue
            if key in _CRON_KEYS and path[-1] == key and isinstance(value, str):
                self._parse(path, value, cron, "E601", "invalid cron expression")
            elif key in _DURATION_KEYS and path[-1] == key:
                self._parse(path, value, duration_seconds, "E602", "invalid duration")
            elif key == "memory" and path[-1] == key:
                self._parse(path, value, size_bytes, "E603", "invalid size")
            elif key == "cpu" and path[-1] == key:
                self._parse(path, value, cpu_cores, "E604", "invalid cpu amount")

    def _parse(self, path: Path, value: Any, parser, code: str, what: str) -> None:
        try:
            parser(value)
        except ValueError as exc:
            self.error(path, code, f"{what}: {exc}")

    # ------------------------------------------------------------ secrets

    def secrets(self) -> None:
        for path, value in _walk(self.d, ()):
            if not isinstance(value, str):
                continue
            for pattern, what in _CREDENTIALS:
                if pattern.search(value):
                    self.error(path, "E501", f"this value looks like {what}; secrets must not be written in the spec",
                               "store it in your secret manager and write `${secret:NAME}`")
                    break
            else:
                key = path[-1] if path and isinstance(path[-1], str) else ""
                if _SECRET_KEY_NAMES.search(key) and not _REF.match(value):
                    self.error(path, "E502", f"`{key}` must be a secret reference, not a literal value",
                               "write `${secret:NAME}`; each target maps it to its secret store")

    # ------------------------------------------------------------ references

    def references(self) -> None:
        datasets = set(self.datasets())
        for name, ds in self.datasets().items():
            if "schema_from" in ds:
                self.resolve(("data", "datasets", name, "schema_from"), ds["schema_from"], datasets - {name}, "dataset")
                if self._schema_cycle(name):
                    self.error(("data", "datasets", name, "schema_from"), "E302",
                               f"`schema_from` of `{name}` forms a cycle")
        label = self.get("data", "label")
        if label is not None:
            with_schema = [n for n in datasets if self.columns(n) is not None]
            if with_schema and not any(label in (self.columns(n) or ()) for n in with_schema):
                self.resolve(("data", "label"), label, self.all_columns(), "column")
        stratify = self.get("data", "split", "stratify")
        if stratify is not None and self.all_columns():
            self.resolve(("data", "split", "stratify"), stratify, self.all_columns(), "column")
        entities = set(self.get("features", "entities") or {})
        for name, view in (self.get("features", "views") or {}).items():
            base = ("features", "views", name)
            self.resolve(base + ("entity",), view["entity"], entities, "entity")
            self.resolve(base + ("source",), view["source"], datasets, "dataset")
        for name, entity in (self.get("features", "entities") or {}).items():
            cols = self.all_columns()
            if cols and entity.get("join_key") not in cols:
                self.resolve(("features", "entities", name, "join_key"), entity["join_key"], cols, "column")
        self._eval_references(datasets)
        self._monitoring_references(datasets)
        self._llm_references(datasets)

    def _schema_cycle(self, start: str) -> bool:
        seen, current = set(), start
        while current in self.datasets():
            if current in seen:
                return True
            seen.add(current)
            current = self.datasets()[current].get("schema_from")
        return False

    def _eval_references(self, datasets: set[str]) -> None:
        evals = self.get("evals") or {}
        if "dataset" in evals:
            self.resolve(("evals", "dataset"), evals["dataset"], datasets, "dataset")
        if "suite" in evals:
            self.resolve(("evals", "suite", "dataset"), evals["suite"]["dataset"], datasets, "dataset")
        metrics = set(evals.get("metrics") or {}) | ({"score"} if "suite" in evals else set())
        for metric in evals.get("max_regression") or {}:
            self.resolve(("evals", "max_regression", metric), metric, metrics, "evaluation metric")
        for i, column in enumerate(evals.get("slices") or []):
            if self.all_columns():
                self.resolve(("evals", "slices", i), column, self.all_columns(), "column")
        envs = list(self.get("deployment", "environments") or {})
        baseline = evals.get("baseline")
        if baseline not in (None, "none"):
            self.resolve(("evals", "baseline"), baseline, set(envs) | {"none"}, "environment")
        objective = self.get("training", "sweep", "objective", "metric")
        if objective is not None:
            reported = set(evals.get("metrics") or {})
            allowed = reported | {f"val_{m}" for m in reported} | {f"train_{m}" for m in reported}
            if objective not in allowed:
                self.resolve(("training", "sweep", "objective", "metric"), objective, allowed, "metric")
        for i, env in enumerate(self.get("registry", "approval", "required_for") or []):
            self.resolve(("registry", "approval", "required_for", i), env, envs, "environment")

    def _monitoring_references(self, datasets: set[str]) -> None:
        drift = self.get("monitoring", "drift")
        if not drift:
            return
        self.resolve(("monitoring", "drift", "reference"), drift["reference"], datasets, "dataset")
        columns = self.columns(drift["reference"]) if drift["reference"] in datasets else None
        if columns is not None:
            for i, feature in enumerate(drift.get("features") or []):
                self.resolve(("monitoring", "drift", "features", i), feature, columns, "column")
        elif drift["reference"] in datasets and "features" not in drift:
            self.error(("monitoring", "drift"), "E303",
                       f"drift needs `features`: dataset `{drift['reference']}` declares no schema",
                       "list the columns to watch, or add a schema to the reference dataset")
        if columns is not None and "features" not in drift:
            label = self.get("data", "label")
            schema = self.schema_of(drift["reference"]) or {}
            # The same default as normalization: every column but the label and unique ids.
            if not [c for c, spec in schema.items() if c != label and not spec.get("unique")]:
                self.error(("monitoring", "drift"), "E303",
                           f"drift has no columns to watch: `{drift['reference']}` has only the label and unique ids",
                           "list the columns to watch in `features`")

    def _llm_references(self, datasets: set[str]) -> None:
        if self.get("llm", "fine_tune"):
            self.resolve(("llm", "fine_tune", "dataset"), self.get("llm", "fine_tune", "dataset"), datasets, "dataset")
        routes = [r.get("name") for r in (self.get("llm", "gateway", "routes") or [])]
        seen: set[str] = set()
        for i, name in enumerate(routes):
            if name in seen:
                self.error(("llm", "gateway", "routes", i, "name"), "E304", f"route `{name}` is defined twice")
            seen.add(name)
        for source, targets in (self.get("llm", "gateway", "fallbacks") or {}).items():
            self.resolve(("llm", "gateway", "fallbacks", source), source, set(routes), "route")
            for i, target in enumerate(targets):
                self.resolve(("llm", "gateway", "fallbacks", source, i), target, set(routes), "route")
                if target == source:
                    self.error(("llm", "gateway", "fallbacks", source, i), "E304",
                               f"route `{source}` cannot fall back to itself")

    # ------------------------------------------------------------ lifecycle rules

    def rollout_rules(self) -> None:
        for name, env in (self.get("deployment", "environments") or {}).items():
            base = ("deployment", "environments", name, "strategy")
            strategy = (env or {}).get("strategy") or {}
            kind = strategy.get("type", "direct")
            steps = strategy.get("steps")
            if kind == "canary":
                if not steps:
                    self.error(base, "E401", "a canary strategy needs `steps` (traffic percentages)",
                               "for example `steps: [5, 25, 50, 100]`")
                else:
                    self._canary_steps(base + ("steps",), steps)
            elif steps is not None:
                self.error(base + ("steps",), "E402", f"`steps` only applies to canary, not `{kind}`",
                           "remove `steps`, or use `type: canary`")
            if kind == "shadow" and "sample" not in strategy:
                self.error(base, "E402", "a shadow strategy needs `sample` (the share of traffic mirrored)",
                           "for example `sample: 0.1`")
            if kind == "ab_test" and "split" not in strategy:
                self.error(base, "E402", "an ab_test strategy needs `split` (the challenger's share)",
                           "for example `split: 0.5`")
            for key in ("sample", "split"):
                if key in strategy and kind not in {"sample": ("shadow",), "split": ("ab_test",)}[key]:
                    self.error(base + (key,), "E402", f"`{key}` does not apply to a `{kind}` strategy")
        for path in (("deployment", "serving", "autoscaling"), ("llm", "serving", "autoscaling")):
            scaling = self.get(*path) or {}
            if scaling.get("min_replicas", 1) > scaling.get("max_replicas", max(scaling.get("min_replicas", 1), 1)):
                self.error(path + ("min_replicas",), "E403", "`min_replicas` is greater than `max_replicas`")
        for section in (("training",), ("llm", "fine_tune")):
            spot = self.get(*section, "spot") or {}
            runtime = self.get(*section, "max_runtime")
            # Without max_runtime, normalization defaults it to max_wait, so only both can clash.
            if spot.get("enabled") and "max_wait" in spot and runtime is not None:
                try:
                    if duration_seconds(spot["max_wait"]) < duration_seconds(runtime):
                        self.error(section + ("spot", "max_wait"), "E404",
                                   f"spot `max_wait` ({spot['max_wait']}) is shorter than `max_runtime` ({runtime})",
                                   "max_wait includes waiting for capacity and must cover the whole runtime")
                except ValueError:
                    pass  # reported by the format check

    def _canary_steps(self, path: Path, steps: list[int]) -> None:
        for i in range(1, len(steps)):
            if steps[i] <= steps[i - 1]:
                self.error(path + (i,), "E401",
                           f"canary steps must strictly increase: {steps[i]} follows {steps[i - 1]}")
                return
        if steps[-1] != 100:
            self.error(path + (len(steps) - 1,), "E401", f"canary steps must end at 100, not {steps[-1]}",
                       "the last step sends all traffic to the new model")

    def production_rules(self) -> None:
        evals = self.get("evals") or {}
        has_gate = bool(evals.get("metrics") or evals.get("suite"))
        for name, env in (self.get("deployment", "environments") or {}).items():
            if name not in PRODUCTION_NAMES:
                continue
            path = ("deployment", "environments", name)
            if not has_gate:
                self.error(path, "E405", f"environment `{name}` needs an evaluation gate",
                           "add `evals.metrics` thresholds or an `evals.suite` so only passing models ship",
                           key=True)
            if not (env or {}).get("rollback"):
                self.error(path, "E406", f"environment `{name}` needs rollback rules",
                           "add `rollback: {max_error_rate: 0.01, max_p99_latency_ms: 500}`", key=True)


def _walk(node: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (i,))
    else:
        yield path, node
