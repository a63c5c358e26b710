"""KServe manifests validate against the InferenceService CRD's openAPIV3Schema."""

import jsonschema
import pytest
import yaml
from mlopsc.targets.kubeflow import kserve


def _validate(schema, manifest):
    # the CRD's int-or-string fields carry `pattern`; jsonschema applies it to strings only
    jsonschema.Draft7Validator(schema).validate(manifest)


@pytest.mark.parametrize("spec", ["churn", "support-assistant"])
def test_every_environment_validates(projects, isvc_schema, spec):
    project = projects[spec]
    for env in project.deployment.environments:
        manifest = yaml.safe_load(yaml.safe_dump(kserve.inference_service(project, env)))
        _validate(isvc_schema, manifest)


def test_canary_autoscaling_and_runtime(projects):
    churn = projects["churn"]
    prod = kserve.inference_service(churn, churn.deployment.environments[1])["spec"]["predictor"]
    assert prod["canaryTrafficPercent"] == 5
    assert (prod["minReplicas"], prod["maxReplicas"]) == (1, 10)
    assert (prod["scaleMetric"], prod["scaleTarget"]) == ("concurrency", 50)
    assert prod["model"]["modelFormat"] == {"name": "mlflow"} and prod["model"]["runtime"] == "kserve-mlserver"
    staging = kserve.inference_service(churn, churn.deployment.environments[0])["spec"]["predictor"]
    assert "canaryTrafficPercent" not in staging


def test_llm_serving_uses_vllm_on_gpu_and_scales_to_zero(projects):
    sa = projects["support-assistant"]
    manifest = kserve.inference_service(sa, sa.deployment.environments[0])
    pred = manifest["spec"]["predictor"]
    assert pred["minReplicas"] == 0 and pred["maxReplicas"] == 4
    assert pred["model"]["runtime"] == "kserve-huggingfaceserver" and "--backend=vllm" in pred["model"]["args"]
    assert pred["model"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pred["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-L4"}
    assert manifest["metadata"]["namespace"] == "llm"


def test_schema_rejects_a_bad_manifest(projects, isvc_schema):
    churn = projects["churn"]
    bad = kserve.inference_service(churn, churn.deployment.environments[1])
    bad["spec"]["predictor"]["scaleMetric"] = "qps"
    with pytest.raises(jsonschema.ValidationError):
        _validate(isvc_schema, bad)
