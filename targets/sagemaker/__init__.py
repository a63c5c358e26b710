"""Amazon SageMaker: pipeline definitions, CloudFormation for guarded endpoints and Model Monitor.

Never imports boto3 or sagemaker: compiling is pure; `submit.py` talks to AWS.
"""

from .target import SageMakerTarget

__all__ = ["SageMakerTarget"]
