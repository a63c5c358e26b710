"""The credential table (compiler/rules/secrets.py) against sample tokens of each format, the
formats detect-secrets' plugins and gitleaks' rules match; and a found secret is never echoed."""

from __future__ import annotations

import pytest
from mlopsc import api
from mlopsc.rules.secrets import looks_like_credential

# Made-up tokens of each provider's published format.
TOKENS = [
    "AKIAIOSFODNN7EXAMPLE",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "Bearer abcdefghijklmnopqrstuvwx",
    "sk-proj-abcdefghijklmnopqrstuvwx",
    "ghp_" + "a1B2" * 9,
    "xoxb-1234567890-abcdefghij",
    "hf_" + "AbCdEfGhIj" * 3 + "KlMn",
    "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K_l-M3n4O5p6Q",
    "glpat-" + "xYz12" * 4,
    "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "SK" + "0123456789abcdef" * 2,
    "SG." + "a" * 22 + "." + "b" * 43,
    "npm_" + "A1b2C3" * 6,
    "pypi-AgEIcHlwaS5vcmc" + "x" * 60,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc",
    "DefaultEndpointsProtocol=https;AccountKey=" + "A" * 86 + "==",
    "sq0csp-" + "a" * 43,
    "0123456789abcdef0123456789abcdef-us12",
    "postgresql://user:hunter2@db.example:5432/app",
    "https://deploy:tok3n@git.example/repo.git",
]
NOT_SECRETS = ["s3://bucket/key", "postgresql://user@db.example/app", "postgresql://user:${secret:DB}@db/app",
               "hf_hub", "churn-classifier", "https://example.com:8443/path", "python:3.11-slim",
               "meta-llama/Llama-3.1-8B-Instruct", "sqlite:///.mlopsc/mlflow.db"]


@pytest.mark.parametrize("token", TOKENS)
def test_every_format_is_found(token):
    assert looks_like_credential(token)
    assert looks_like_credential(f"prefix {token} suffix")


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_ordinary_values_are_not_taken_for_secrets(text):
    assert not looks_like_credential(text)


@pytest.mark.parametrize("token", TOKENS)
def test_a_found_secret_is_reported_and_never_echoed(tmp_path, token):
    path = tmp_path / "spec.yaml"
    path.write_text("apiVersion: mlopsc/v1\nname: demo\ntracking: {uri: 'x'}\ndescription: 'x'\n"
                    f"labels: {{team: {token!r}}}\n", encoding="utf-8")
    found = api.validate(str(path))
    assert "E501" in {d.code for d in found}
    secret_part = token.split("@")[0][-6:] if "://" in token else token[-12:]
    assert all(secret_part not in d.text() for d in found), [d.text() for d in found]
