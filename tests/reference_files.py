"""Where the published schemas and CRDs live: `../shared/reference/` beside the checkout.

CI clones the repository into a fresh folder with a copy of shared/ beside it; a developer's
checkout has it in the same place. MLOPSC_SHARED_DIR overrides both.
"""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def reference_dir() -> str:
    candidates = [os.environ.get("MLOPSC_SHARED_DIR", ""), os.path.join(os.path.dirname(ROOT), "shared"),
                  "/work/shared"]
    for shared in candidates:
        if shared and os.path.isdir(os.path.join(shared, "reference")):
            return os.path.join(shared, "reference")
    raise FileNotFoundError(f"shared/reference not found (looked in {', '.join(c for c in candidates if c)}); "
                            "set MLOPSC_SHARED_DIR")


def reference(name: str) -> str:
    return os.path.join(reference_dir(), name)
