"""Every default that normalization applies, in one place, written as a spec would write it.

The schema documents the same values as `default`s (for editors and readers);
tests/language/test_normalize.py checks that each schema default equals the value here and that
normalization applies it. Defaults that depend on other values are noted where they are applied
(max_replicas is at least min_replicas, max_runtime falls back to spot's max_wait, the tracking
experiment and registry model default to the project name, a dataset's format to its suffix).
"""

from __future__ import annotations

IMAGE_BASE = "python:3.11-slim"

DATA_VERSIONING = "hash"
SPLIT_VALIDATION = 0.2
SPLIT_SEED = 42
COLUMN_NULLABLE = True
COLUMN_UNIQUE = False
DATASET_FORMAT = "parquet"  # when the uri's suffix names no known format
FEATURE_STORE = "inline"

TRAINING_FRAMEWORK = "custom"
TRAINING_RESOURCES = {"cpu": 2, "memory": "8Gi"}
MAX_RUNTIME = "24h"
SPOT_ENABLED = False
SWEEP_STRATEGY = "random"
SWEEP_GOAL = "maximize"
SWEEP_MAX_TRIALS = 10
SWEEP_PARALLEL_TRIALS = 1

TRACKING_BACKEND = "mlflow"
EVALS_BASELINE = "none"

SERVING_RUNTIME = "mlflow"
SERVING_RESOURCES = {"cpu": 1, "memory": "2Gi"}
MIN_REPLICAS = 1
MAX_REPLICAS = 1  # and at least min_replicas
STRATEGY = {"type": "direct"}
STRATEGY_TYPE = "direct"
STRATEGY_INTERVAL = "10m"
SMOKE_TEST = False

DRIFT_METHOD = "psi"
DRIFT_THRESHOLD = 0.2
MONITORING_EVALS = "never"
ON_VIOLATION = ["alert"]
CAPTURE_SAMPLE = 1
TRIGGER_DATA = "ignore"
TRIGGER_CODE = "ignore"
COST_ALERT_AT = 0.8

FINE_TUNE_METHOD = "lora"
LORA_R = 16
LORA_ALPHA = 32
LORA_DROPOUT = 0.05
FINE_TUNE_EPOCHS = 1
FINE_TUNE_LEARNING_RATE = 0.0002
LLM_SERVING_ENGINE = "vllm"
TENSOR_PARALLEL = 1
GATEWAY_ENGINE = "litellm"
