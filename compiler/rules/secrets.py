"""E501 (a value that looks like a credential) and E502 (a secret-named key with a literal value).

These two read the document, not the IR, on purpose: they must run on schema-invalid documents
too (a leaked key is worth reporting even when the spec has other errors, and the schema's own
messages must never echo it), and they must see every string, including the free-form values
(labels, hyperparameters, description) that the IR keeps frozen or drops.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..loader import Document, Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

# The token formats of detect-secrets' plugins (and gitleaks' rules for the providers it lacks),
# as one table; tests/language/test_secrets.py checks each against sample tokens of that format.
# Each comes with a text any match contains: a value without it skips the expression, which is
# compiled only when first needed (re's cache), so validate compiles the few a spec calls for.
_CREDENTIALS = (
    ("IA", r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", "an AWS access key id"),
    ("-----BEGIN ", r"-----BEGIN [A-Z ]*PRIVATE KEY-----", "a private key block"),
    ("Bearer", r"\bBearer\s+[A-Za-z0-9\-._~+/]{16,}=*", "a bearer token"),
    ("sk-", r"\bsk-[A-Za-z0-9_-]{20,}", "an API secret key"),
    ("gh", r"\bgh[pousr]_[A-Za-z0-9]{30,}", "a GitHub token"),
    ("xox", r"\bxox[abprs]-[A-Za-z0-9-]{10,}", "a Slack token"),
    ("hf_", r"\bhf_[A-Za-z0-9]{30,}", "a Hugging Face token"),
    ("AIza", r"\bAIza[0-9A-Za-z_-]{35}", "a Google API key"),
    ("glpat-", r"\bglpat-[0-9A-Za-z_-]{20,}", "a GitLab token"),
    ("k_live_", r"\b[rs]k_live_[0-9a-zA-Z]{24,}", "a Stripe key"),
    ("SK", r"\bSK[0-9a-fA-F]{32}\b", "a Twilio key"),
    ("SG.", r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b", "a SendGrid key"),
    ("npm_", r"\bnpm_[A-Za-z0-9]{36}\b", "an npm token"),
    ("pypi-AgEIcHlwaS5vcmc", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}", "a PyPI token"),
    ("eyJ", r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+", "a JSON web token"),
    ("AccountKey=", r"AccountKey=[A-Za-z0-9+/=]{40,}", "an Azure storage key"),
    ("sq0csp-", r"\bsq0csp-[0-9A-Za-z_-]{43}", "a Square secret"),
    ("-us", r"\b[0-9a-f]{32}-us[0-9]{1,2}\b", "a Mailchimp key"),
    # detect-secrets' BasicAuthDetector: a password in a URI's userinfo (`${secret:..}` is fine).
    ("://", r"://[^{}\s/@:]+:[^{}\s/@]+@", "a password inside a URI"),
)
_SECRET_KEY_NAMES = re.compile(r"(password|passwd|secret|token|api_key|apikey|access_key)$", re.IGNORECASE)
_REF = re.compile(r"^\$\{(secret|env):[A-Za-z_][A-Za-z0-9_./-]*\}$")


def looks_like_credential(value: str) -> bool:
    return _credential(value) is not None


def _credential(value: str) -> str | None:
    """What the value looks like (the first format it matches), or None."""
    for text, pattern, what in _CREDENTIALS:
        if text in value and re.search(pattern, value):
            return what
    return None


def scan(doc: Document) -> list[Diagnostic]:
    found = []
    for path, value in _strings(doc.data, ()):
        problem = _problem(path, value)
        if problem:
            line, col = doc.source_map.locate(path)
            found.append(Diagnostic(doc.file, line, col, *problem))
    return found


def _problem(path: Path, value: str) -> tuple[str, str, str] | None:
    what = _credential(value)
    if what is not None:
        hint = ("keep the user and write the password as `${secret:NAME}`: scheme://user:${secret:NAME}@host"
                if "URI" in what else "store it in your secret manager and write `${secret:NAME}`")
        return ("E501", f"this value looks like {what}; secrets must not be written in the spec", hint)
    key = path[-1] if path and isinstance(path[-1], str) else ""
    if _SECRET_KEY_NAMES.search(key) and not _REF.match(value):
        return ("E502", f"`{key}` must be a secret reference, not a literal value",
                "write `${secret:NAME}`; each target maps it to its secret store")
    return None


def _strings(node: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, path + (i,))
    elif isinstance(node, str):
        yield path, node
