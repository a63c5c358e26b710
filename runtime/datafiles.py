"""Reading and writing tabular data files by format: parquet, csv, jsonl, json."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def write(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write by extension (.parquet, .csv, .jsonl, .json), atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        df.to_parquet(tmp, index=False)
    elif suffix == ".csv":
        df.to_csv(tmp, index=False, lineterminator="\n")
    elif suffix == ".jsonl":
        df.to_json(tmp, orient="records", lines=True)
    elif suffix == ".json":
        df.to_json(tmp, orient="records")
    else:
        raise ValueError(f"unknown data format for {path.name}: use .parquet, .csv, .jsonl or .json")
    os.replace(tmp, path)
    return path


def read(path: str | os.PathLike, format: str | None = None) -> pd.DataFrame:
    """Read a parquet, csv, jsonl or json file (`format`, or else the file's extension)."""
    path = Path(path)
    fmt = format or path.suffix.lower().lstrip(".") or "parquet"
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "csv":
        return pd.read_csv(path)
    if fmt == "jsonl":
        return pd.read_json(path, lines=True)
    if fmt == "json":
        return pd.read_json(path, orient="records")
    raise ValueError(f"unknown data format {fmt!r}")
