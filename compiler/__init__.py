"""mlopsc: compile one mlops.yaml into native ML pipelines for every platform."""

__version__ = "0.1.0"
