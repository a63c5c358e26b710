"""The mapping table: every row is a real instance type for its uses, and the rule picks sensibly."""

import botocore.session
import pytest
from mlopsc import ir
from mlopsc.targets.sagemaker import instance_types as it

GIB = 2**30
ENUMS = {"training": "TrainingInstanceType", "processing": "ProcessingInstanceType",
         "serving": "ProductionVariantInstanceType"}


def test_every_row_is_offered_for_its_uses():
    model = botocore.session.get_session().get_service_model("sagemaker")
    missing = [(row.name, use) for row in it.TABLE for use in row.uses
               if row.name not in model.shape_for(ENUMS[use]).enum]
    assert not missing


@pytest.mark.parametrize("res, use, expected", [
    (ir.Resources(1.0, 4 * GIB), "processing", "ml.t3.medium"),
    (ir.Resources(0.5, GIB), "serving", "ml.m5.large"),
    (ir.Resources(2.0, 4 * GIB), "serving", "ml.m5.large"),
    (ir.Resources(4.0, 16 * GIB), "training", "ml.m5.xlarge"),
    (ir.Resources(4.0, 8 * GIB), "training", "ml.c5.xlarge"),
    (ir.Resources(2.0, 16 * GIB), "training", "ml.r5.large"),
    (ir.Resources(4.0, 16 * GIB, 1, "nvidia-t4"), "training", "ml.g4dn.xlarge"),
    (ir.Resources(8.0, 16 * GIB, 2, "nvidia-t4"), "training", "ml.g4dn.12xlarge"),
    (ir.Resources(2.0, 8 * GIB, 1, "nvidia-a10g"), "serving", "ml.g5.xlarge"),
    (ir.Resources(2.0, 8 * GIB, 1, "nvidia-l4"), "training", "ml.g6.xlarge"),
    (ir.Resources(2.0, 8 * GIB, 1, "nvidia-v100"), "training", "ml.p3.2xlarge"),
    (ir.Resources(2.0, 8 * GIB, 1, "nvidia-a100"), "training", "ml.p4d.24xlarge"),
    (ir.Resources(2.0, 8 * GIB, 1, "nvidia-a100-80gb"), "serving", "ml.p4de.24xlarge"),
    (ir.Resources(2.0, 8 * GIB, 8, "nvidia-h100"), "training", "ml.p5.48xlarge"),
])
def test_cheapest_fitting_row(res, use, expected):
    assert it.choose(res, use) == expected


@pytest.mark.parametrize("res, use", [
    (ir.Resources(200.0, 4 * GIB), "training"),  # no instance has 200 vCPUs
    (ir.Resources(4.0, 4096 * GIB), "serving"),  # nor 4 TiB of memory
    (ir.Resources(2.0, 8 * GIB, 16, "nvidia-a100"), "training"),  # nor 16 A100s
    (ir.Resources(2.0, 8 * GIB, 1, "nvidia-a100"), "processing"),  # no A100 processing jobs
])
def test_unmappable_is_none(res, use):
    assert it.choose(res, use) is None


def test_override_wins():
    res = ir.Resources(200.0, 4 * GIB)
    assert it.choose(res, "training", {"training": "ml.c5.18xlarge"}) == "ml.c5.18xlarge"
    assert it.choose(ir.Resources(1.0, GIB), "serving", {"training": "ml.c5.18xlarge"}) == "ml.m5.large"


def test_gpu_requests_never_get_cpu_only_rows_and_vice_versa():
    for row in it.TABLE:
        assert (row.gpu_count == 0) == (row.gpu_type is None)
    assert it.choose(ir.Resources(1.0, GIB), "training") == "ml.m5.large"
