"""AWS clients, errors and the SageMaker model registry, for the SageMaker platform.

boto3 is imported inside the functions: the runtime's other actions do not need it. The AWS
endpoint is botocore's (`AWS_ENDPOINT_URL` and friends), the region `AWS_REGION`,
`AWS_DEFAULT_REGION`, else `targets.sagemaker.region` from the spec. An AWS error the steps do
not expect (no credentials, no connection, access denied) stops the step with its message.
"""

from __future__ import annotations

import functools
import os

from mlopsc import ir
from mlopsc.runtime.steps import StepFailed


def region(project: ir.Project) -> str:
    from mlopsc.targets.sagemaker.settings import settings

    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or settings(project).region


def session(project: ir.Project):
    import boto3

    return boto3.session.Session(region_name=region(project))


def package_group(model: str) -> str:
    """The model package group of a registry model: the compiled pipeline's resource name."""
    from mlopsc.targets.sagemaker.expressions import resource_name

    return resource_name(model)


def error_code(e: Exception) -> str:
    return getattr(e, "response", {}).get("Error", {}).get("Code", "")


def error_message(e: Exception) -> str:
    return getattr(e, "response", {}).get("Error", {}).get("Message", "") or str(e)


def aws_errors(fn):
    """AWS errors the step does not handle itself become `StepFailed` (one message, no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as e:
            raise StepFailed(f"AWS refused {e.operation_name}: {error_message(e)}") from None
        except BotoCoreError as e:
            raise StepFailed(f"AWS: {e}") from None

    return wrapper


# ---------------------------------------------------------------- the model registry


def packages(sm, group: str) -> list[dict]:
    """The group's packages, newest version first."""
    from botocore.exceptions import ClientError

    out: list[dict] = []
    try:
        for page in sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
            out += page.get("ModelPackageSummaryList", [])
    except ClientError as e:
        raise StepFailed(f"cannot list model package group {group!r}: {error_message(e)}") from None
    return sorted(out, key=lambda p: int(p.get("ModelPackageVersion") or 0), reverse=True)


def resolve_package(sm, group: str, requested: str | None, approved_only: bool) -> dict:
    """The package (DescribeModelPackage) for `latest`, a version number, or an ARN."""
    from botocore.exceptions import ClientError

    requested = (requested or "").strip().strip('"')
    arn = requested if requested.startswith("arn:") else package_arn(sm, group, requested, approved_only)
    try:
        return sm.describe_model_package(ModelPackageName=arn)
    except ClientError as e:
        raise StepFailed(f"cannot read model package {arn}: {error_message(e)}") from None


def package_arn(sm, group: str, requested: str, approved_only: bool) -> str:
    """`latest` (or empty): the newest usable package; otherwise the one with that version number."""
    found = packages(sm, group)
    if requested and requested != "latest":
        match = [p for p in found if str(p.get("ModelPackageVersion")) == requested]
        if not match:
            raise StepFailed(f"model package group {group!r} has no version {requested}")
        return match[0]["ModelPackageArn"]
    usable = [p for p in found if (p.get("ModelApprovalStatus") == "Approved" if approved_only
                                   else p.get("ModelApprovalStatus") != "Rejected")]
    if not usable:
        what = "approved" if approved_only else "registered (and not rejected)"
        raise StepFailed(f"model package group {group!r} has no {what} version to deploy"
                         + (" (approve one first)" if approved_only and found else " (run the train pipeline first)"))
    return usable[0]["ModelPackageArn"]


def package_version(package: dict) -> str:
    return str(package.get("ModelPackageVersion") or package["ModelPackageArn"].rsplit("/", 1)[-1])
