"""Write the example's deterministic synthetic data next to this file, under data/:

- customers.parquet (8,000 rows) and holdout.parquet (2,000): training and evaluation;
- current.parquet: a new batch from the same population (no drift);
- shifted.parquet: a new batch after a market shift (drift);
- bad.parquet: a corrupted batch (nulls, out-of-range values, an unknown plan, a missing column).

    python specs/churn_local/make_data.py
"""

from __future__ import annotations

from pathlib import Path

from mlopsc.runtime.example_churn.data import corrupt, generate, write

HERE = Path(__file__).resolve().parent


def main(out: Path = HERE / "data") -> None:
    write(generate(8000, seed=0), out / "customers.parquet")
    write(generate(2000, seed=1, id_offset=1_000_000), out / "holdout.parquet")
    write(generate(3000, seed=2, id_offset=2_000_000), out / "current.parquet")
    write(generate(3000, seed=3, id_offset=3_000_000, drift=0.5), out / "shifted.parquet")
    write(corrupt(generate(8000, seed=0)), out / "bad.parquet")
    print(f"wrote {out}/{{customers,holdout,current,shifted,bad}}.parquet")


if __name__ == "__main__":
    main()
