"""The fast path for our own capture files: a whole `local` JSONL file parsed by pyarrow's JSON
reader (C++, multi-threaded) instead of line by line, since the monitor reads millions of rows.
Anything the reader cannot type (mixed types in a field, instances sent as lists, predictions
that do not match their instances one to one) returns None and goes the line-by-line way, which
gives the same rows."""

from __future__ import annotations

import io

REQUIRED = {"id", "time", "instances", "predictions"}


def local_rows(data: bytes):
    """Rows (features, `prediction`, `request_id`, `timestamp`, `shadow`) of a local capture file, or None."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    try:
        table = pj.read_json(io.BytesIO(data))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not REQUIRED <= set(table.column_names):
        return None
    instances = table.column("instances").combine_chunks()
    predictions = table.column("predictions").combine_chunks()
    if not (pa.types.is_list(instances.type) and pa.types.is_struct(instances.type.value_type)
            and pa.types.is_list(predictions.type)):
        return None
    lengths = pc.list_value_length(instances).fill_null(0)
    if not pc.all(pc.equal(pc.list_value_length(predictions).fill_null(-1), lengths)).as_py():
        return None
    flat = pc.list_flatten(instances)
    frame = pa.Table.from_arrays(flat.flatten(), names=[f.name for f in flat.type]).to_pandas()
    take = np.repeat(np.arange(len(table)), lengths.to_numpy(zero_copy_only=False))
    frame["prediction"] = pd.Series(pc.list_flatten(predictions).to_pylist(), index=frame.index, dtype="object")
    frame["request_id"] = table.column("id").cast(pa.string()).to_numpy(zero_copy_only=False)[take]
    times = pd.to_datetime(pd.Series(table.column("time").cast(pa.string()).to_pylist()), utc=True,
                           format="ISO8601")
    # repeat datetime64 values, not Timestamp objects: a million objects cost seconds
    utc = times.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
    frame["timestamp"] = pd.Series(utc[take], index=frame.index).dt.tz_localize("UTC")
    shadow = (table.column("shadow").fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
              if "shadow" in table.column_names else np.zeros(len(table), dtype=bool))
    frame["shadow"] = shadow[take]
    return frame


__all__ = ["local_rows"]
