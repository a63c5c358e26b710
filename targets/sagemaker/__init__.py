"""Amazon SageMaker: pipeline definitions, CloudFormation for guarded endpoints and Model Monitor.

Never imports boto3 or sagemaker: compiling is pure; `submit.py` talks to AWS.
"""

__all__ = ["SageMakerTarget"]


def __getattr__(name: str):
    # The target class is imported on first use: `mlopsc cost` and the budget gate read only the
    # instance/machine table of this package, and validate should not pay for the emitters.
    if name == "SageMakerTarget":
        from .target import SageMakerTarget

        return SageMakerTarget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
