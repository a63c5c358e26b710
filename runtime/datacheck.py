"""Validate a pandas DataFrame against a dataset's declared columns and checks.

`check_dataframe(df, columns, min_rows=..., max_null_fraction=...)` returns a JSON-able report
with every failure, in a deterministic order: dataset-level rules first (`min_rows`), then each
declared column in declaration order, each with its rules in this order:

    missing, type, nullable, unique, min, max, values, max_null_fraction

Each failure carries the column, the rule, how many rows fail, the first failing row and an
example value, and a one-line `message`, e.g.

    column 'tenure_months': min: 3 rows below 0 (e.g. -4 at row 17)

Type rules (values that fail the type rule are left out of the range and value rules):
- `integer`: an integer dtype; a float dtype whose non-null values are whole numbers (pandas
  reads integer columns with nulls as floats); text or objects that parse as whole numbers.
- `number`: any numeric dtype except boolean; text or objects that parse as numbers.
- `boolean`: a boolean dtype; integers 0/1; text `true/false/1/0` (any case).
- `string`: text values (a string or object dtype holding `str`).
- `category`: any value; `values` lists the allowed ones.
- `datetime`: a datetime dtype, or text that parses as an ISO 8601 date or time.

`max_null_fraction` applies to every declared column present in the frame.
Columns present in the frame but not declared are listed in `extra_columns`; they are not
failures. All checks are vectorized (pandas/numpy); nothing loops over rows in Python except
the `string` type check on object columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from mlopsc import ir

RULES = ("missing", "type", "nullable", "unique", "min", "max", "values", "max_null_fraction")


class ValidationFailed(Exception):
    """Raised by `require_valid` when a report has failures; carries the report."""

    def __init__(self, report: dict):
        self.report = report
        super().__init__(format_report(report))


def check_dataset(df: pd.DataFrame, dataset: ir.Dataset, data: ir.Data | None = None) -> dict:
    """Check `df` against an IR dataset; `schema_from` is resolved through `data`."""
    columns = dataset.columns
    if not columns and dataset.schema_from and data is not None:
        source = data.dataset(dataset.schema_from)
        if source is not None:
            columns = source.columns
    return check_dataframe(
        df,
        columns,
        min_rows=dataset.min_rows,
        max_null_fraction=dataset.max_null_fraction,
        dataset=dataset.name,
    )


def check_dataframe(
    df: pd.DataFrame,
    columns: Iterable[ir.Column],
    *,
    min_rows: int | None = None,
    max_null_fraction: float | None = None,
    dataset: str = "data",
) -> dict:
    """Validate `df`; return a report dict (JSON-able, keys in a fixed order)."""
    columns = tuple(columns)
    failures: list[dict] = []
    n = len(df)
    if min_rows is not None and n < min_rows:
        failures.append(
            _failure(None, "min_rows", n, None, None, f"{n} rows, at least {min_rows} required")
        )
    declared = {c.name for c in columns}
    for col in columns:
        if col.name not in df.columns:
            failures.append(
                _failure(col.name, "missing", n, None, None, f"column is missing (expected {col.type})")
            )
            continue
        failures.extend(_check_column(df[col.name], col, n, max_null_fraction))
    extra = [str(c) for c in df.columns if c not in declared]
    return {
        "dataset": dataset,
        "rows": n,
        "columns_checked": len(columns),
        "passed": not failures,
        "failure_count": len(failures),
        "failures": failures,
        "extra_columns": extra,
    }


def require_valid(report: dict) -> dict:
    """Return `report` if it passed; raise `ValidationFailed` otherwise."""
    if not report["passed"]:
        raise ValidationFailed(report)
    return report


def format_report(report: dict) -> str:
    """Human-readable lines: a header, then one line per failure."""
    if report["passed"]:
        return f"{report['dataset']}: {report['rows']} rows, {report['columns_checked']} columns: ok"
    head = f"{report['dataset']}: {report['failure_count']} validation failure(s) in {report['rows']} rows"
    return "\n".join([head] + [f"  {f['message']}" for f in report["failures"]])


# ---------------------------------------------------------------- per column


def _check_column(s: pd.Series, col: ir.Column, n: int, max_null_fraction: float | None) -> list[dict]:
    out: list[dict] = []
    null = s.isna().to_numpy()
    nonnull = ~null
    nulls = int(null.sum())

    bad_type, values = _type_check(s, col.type, nonnull)
    if bad_type is not None and bad_type.any():
        out.append(_from_mask(s, col, "type", bad_type, f"not {_article(col.type)}"))
        ok = nonnull & ~bad_type
    else:
        ok = nonnull

    if not col.nullable and nulls:
        out.append(_from_mask(s, col, "nullable", null, "null (the column is not nullable)", example=False))

    if col.unique:
        dup = s.duplicated(keep="first").to_numpy() & nonnull
        if dup.any():
            out.append(_from_mask(s, col, "unique", dup, "with a duplicate of an earlier value"))

    if values is not None and (col.min is not None or col.max is not None):
        with np.errstate(invalid="ignore"):
            if col.min is not None:
                below = ok & (values < col.min)
                if below.any():
                    out.append(_from_mask(s, col, "min", below, f"below {_num(col.min)}"))
            if col.max is not None:
                above = ok & (values > col.max)
                if above.any():
                    out.append(_from_mask(s, col, "max", above, f"above {_num(col.max)}"))

    if col.values is not None:
        allowed = list(col.values)
        member = _isin(s, allowed, col.type)
        outside = ok & ~member
        if outside.any():
            shown = ", ".join(repr(v) for v in allowed)
            out.append(_from_mask(s, col, "values", outside, f"not one of [{shown}]"))

    if max_null_fraction is not None and n and nulls / n > max_null_fraction:
        frac = nulls / n
        msg = (
            f"{_pct(frac)} nulls ({nulls} of {n} rows), at most {_pct(max_null_fraction)} allowed"
        )
        out.append(_failure(col.name, "max_null_fraction", nulls, _first_row(s, null), None, msg))
    return out


def _type_check(s: pd.Series, type_: str, nonnull: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Return (mask of non-null values failing the type, numeric values or None)."""
    dtype = s.dtype
    is_bool = pd.api.types.is_bool_dtype(dtype)
    is_num = pd.api.types.is_numeric_dtype(dtype) and not is_bool
    if type_ in ("number", "integer"):
        if is_bool or pd.api.types.is_datetime64_any_dtype(dtype):
            return nonnull.copy(), None
        if is_num:
            values = s.to_numpy(dtype="float64", na_value=np.nan)
        else:
            values = pd.to_numeric(s.astype("object"), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = nonnull & np.isnan(values)
        if type_ == "integer" and not pd.api.types.is_integer_dtype(dtype):
            with np.errstate(invalid="ignore"):
                bad |= nonnull & ~np.isnan(values) & ~(np.isfinite(values) & (np.floor(values) == values))
        return bad, values
    if type_ == "boolean":
        if is_bool:
            return None, None
        if is_num:
            values = s.to_numpy(dtype="float64", na_value=np.nan)
            return nonnull & ~np.isin(values, (0.0, 1.0)), None
        text = s.astype("object").astype(str).str.lower()
        return nonnull & ~text.isin(("true", "false", "1", "0")).to_numpy(), None
    if type_ == "string":
        if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
            return None, None
        if pd.api.types.is_object_dtype(dtype):
            is_str = s.map(lambda v: isinstance(v, str), na_action="ignore").to_numpy(dtype=bool, na_value=True)
            return nonnull & ~is_str, None
        if isinstance(dtype, pd.CategoricalDtype):
            cats = dtype.categories
            if pd.api.types.is_string_dtype(cats.dtype):
                return None, None
        return nonnull.copy(), None
    if type_ == "datetime":
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return None, None
        if is_num or is_bool:
            return nonnull.copy(), None
        parsed = pd.to_datetime(s.astype("object"), errors="coerce", format="ISO8601", utc=True)
        return nonnull & parsed.isna().to_numpy(), None
    return None, None  # category: any value; `values` restricts it


def _isin(s: pd.Series, allowed: list, type_: str) -> np.ndarray:
    if type_ == "boolean" and not pd.api.types.is_bool_dtype(s.dtype):
        text = s.astype("object").astype(str).str.lower()
        return text.isin([str(v).lower() for v in allowed]).to_numpy()
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("object")
    return s.isin(allowed).to_numpy()


# ---------------------------------------------------------------- failures


def _from_mask(s: pd.Series, col: ir.Column, rule: str, mask: np.ndarray, what: str, example: bool = True) -> dict:
    count = int(mask.sum())
    pos = int(np.argmax(mask))
    row = _jsonable(s.index[pos])
    value = _jsonable(s.iloc[pos]) if example else None
    noun = "row" if count == 1 else "rows"
    if example:
        msg = f"{count} {noun} {what} (e.g. {value!r} at row {row})"
    else:
        msg = f"{count} {noun} {what} (first at row {row})"
    return _failure(col.name, rule, count, row, value, msg)


def _failure(column: str | None, rule: str, count: int, row: Any, example: Any, what: str) -> dict:
    where = f"column {column!r}" if column is not None else "dataset"
    return {
        "column": column,
        "rule": rule,
        "count": int(count),
        "row": row,
        "example": example,
        "message": f"{where}: {rule}: {what}",
    }


def _first_row(s: pd.Series, mask: np.ndarray) -> Any:
    return _jsonable(s.index[int(np.argmax(mask))]) if mask.any() else None


def _jsonable(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else str(f)
    if isinstance(v, str):
        return v
    if isinstance(v, (pd.Timestamp,)):
        return v.isoformat()
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _pct(x: float) -> str:
    return f"{x * 100:.4g}%"


def _article(type_: str) -> str:
    return {"integer": "an integer", "number": "a number", "boolean": "a boolean",
            "string": "a string", "datetime": "a datetime"}.get(type_, type_)
