"""`targets.sagemaker` settings as the compiler needs them (the schema makes region/role/bucket required)."""

from __future__ import annotations

from dataclasses import dataclass

from mlopsc import ir


@dataclass(frozen=True)
class Settings:
    region: str
    role: str
    bucket: str  # s3://bucket[/prefix], no trailing slash
    instance_types: dict[str, str]

    def s3(self, *parts: str) -> str:
        return "/".join([self.bucket, *[p.strip("/") for p in parts if p]])


def settings(project: ir.Project) -> Settings:
    raw = ir.thaw(project.target_settings("sagemaker")) or {}
    return Settings(
        region=raw.get("region", "us-east-1"),
        role=raw.get("role", "arn:aws:iam::000000000000:role/mlopsc-undefined"),
        bucket=(raw.get("bucket") or f"s3://{project.name}-artifacts").rstrip("/"),
        instance_types=dict(raw.get("instance_types") or {}),
    )
