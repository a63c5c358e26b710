"""`mlopsc step`, `run`, `serve` and `monitor`: option parsing only; the work is in mlopsc.runtime.

The runtime (pandas, mlflow, torch) is imported inside each command, so `mlopsc validate` and
`compile` never load it.
"""

from __future__ import annotations

import sys

import click


@click.command("step", context_settings={"ignore_unknown_options": False})
@click.argument("action", required=False)
@click.option("--spec", "spec", type=click.Path(dir_okay=False), help="the mlops.yaml the step belongs to")
@click.option("--target", "target", default="local", show_default=True,
              help="the platform the step runs on (local, kubeflow, sagemaker, vertex)")
@click.option("--pipeline", "pipeline", help="the pipeline the step belongs to (train, deploy, monitor)")
@click.option("--step", "step_name", help="the step's name in its pipeline")
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE", help="a step setting (repeatable)")
@click.option("--input", "inputs", multiple=True, metavar="NAME=REF",
              help="a parameter value, or the path of an input artifact (repeatable)")
@click.option("--output", "outputs", multiple=True, metavar="NAME=REF",
              help="where to write an output: PATH, or PATH#KEY to merge into a JSON file (repeatable)")
@click.option("--executor-output", "executor_output", type=click.Path(dir_okay=False),
              help="write KFP's ExecutorOutput JSON here (Kubeflow, Vertex, kfp.local)")
def step_command(action, spec, target, pipeline, step_name, args, inputs, outputs, executor_output) -> None:
    """Run one pipeline step: the command every target's containers run (`mlopsc.contract`).

    With no arguments, the step's argv is read from MLOPSC_STEP_ARGV (SageMaker tuning jobs).
    Exit 0 done, 1 the step failed (one message on stderr), 2 usage error.
    """
    from mlopsc.runtime import stepmain

    if action is None:
        argv = stepmain.argv_from_env()
        if not argv:
            raise click.UsageError("missing ACTION (or MLOPSC_STEP_ARGV)")
        step_command.main(argv, prog_name="mlopsc step", standalone_mode=True)
        return
    if not spec:
        raise click.UsageError("--spec is required")
    from mlopsc.contract import StepCall, parse_pair

    try:
        call = StepCall(action=action, spec=spec, target=target, pipeline=pipeline, step=step_name,
                        args=tuple(parse_pair("--arg", a) for a in args),
                        inputs=tuple(parse_pair("--input", i) for i in inputs),
                        outputs=tuple(parse_pair("--output", o) for o in outputs),
                        executor_output=executor_output)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    sys.exit(stepmain.run_call(call))


@click.command("train", hidden=True)
def train_entry_command() -> None:
    """SageMaker starts training images as `IMAGE train`; with `ENTRYPOINT ["mlopsc"]` that is
    `mlopsc train`, which runs the step whose argv is in MLOPSC_STEP_ARGV (tuning jobs)."""
    step_command.main([], prog_name="mlopsc step", standalone_mode=True)


@click.command("sagemaker-serve", hidden=True)
def sagemaker_serve_command() -> None:
    """SageMaker starts inference images as `IMAGE serve`: the model in /opt/ml/model answers
    /ping and /invocations on port 8080 (`SAGEMAKER_BIND_TO_PORT`)."""
    from mlopsc.runtime.sagemaker_serve import main

    main()


@click.command("vertex-serve", hidden=True)
def vertex_serve_command() -> None:
    """Vertex starts the Model's container with this command: the model at AIP_STORAGE_URI
    answers AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE on AIP_HTTP_PORT."""
    from mlopsc.runtime.vertex_serve import main

    main()


@click.command("capture-collector", hidden=True)
@click.option("--out", required=True, help="where events go: a path, s3://bucket/prefix or gs://bucket/prefix")
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--flush-seconds", type=float, default=10.0, show_default=True)
@click.option("--flush-events", type=int, default=500, show_default=True)
@click.option("--sample", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="fraction of requests kept (the spec's monitoring.capture.sample)")
def capture_collector_command(out: str, port: int, flush_seconds: float, flush_events: int, sample: float) -> None:
    """Receive KServe logger CloudEvents and write them to object storage (the Kubeflow bundle's
    capture collector, runtime/capture_collector.py)."""
    from mlopsc.runtime.capture_collector import serve

    serve(out, port, flush_seconds, flush_events, sample)


@click.command("run")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--pipeline", type=click.Choice(["train", "deploy", "all"]), default="all", show_default=True)
@click.option("--until", metavar="STEP", help="stop after this step")
@click.option("--approve", is_flag=True, help="approve the new version for environments that require approval")
@click.option("--resume", is_flag=True, help="continue a failed run at the step that failed")
@click.option("--tracking-uri", help="MLflow tracking server (default: the spec's tracking.uri, MLFLOW_TRACKING_URI, "
              "else SQLite under WORKDIR/.mlopsc/)")
@click.option("--workdir", type=click.Path(file_okay=False), help="where .mlopsc/ lives (default: current directory)")
@click.option("--serve", is_flag=True, help="keep the model servers running after the run, until Ctrl-C")
def run_command(spec, pipeline, until, approve, resume, tracking_uri, workdir, serve) -> None:
    """Run the train and deploy pipelines of SPEC on this machine: each step is the command of the
    compiled local plan (`mlopsc compile --target local`'s plan.json), run as a process."""
    from mlopsc.runtime.runner import RunOptions, run

    sys.exit(run(RunOptions(spec=spec, pipeline=pipeline, until=until, approve=approve, resume=resume,
                            tracking_uri=tracking_uri, workdir=workdir, serve=serve)))


@click.command("serve")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--environment", "-e", required=True, help="serve the registry version this environment's alias points at")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--tracking-uri", help="MLflow tracking server (default: SQLite under WORKDIR/.mlopsc/)")
@click.option("--workdir", type=click.Path(file_okay=False))
def serve_command(spec, environment, host, port, tracking_uri, workdir) -> None:
    """Serve ENVIRONMENT's model over HTTP: /predict, /health, /metrics."""
    from mlopsc.runtime.service import serve

    sys.exit(serve(spec, environment, host=host, port=port, tracking_uri=tracking_uri, workdir=workdir))


@click.command("monitor")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--data", type=click.Path(dir_okay=False), envvar="MLOPSC_MONITOR_DATA",
              help="a file of new data to check (or MLOPSC_MONITOR_DATA); default: the traffic the "
                   "production endpoint captured since the last check")
@click.option("--schedule", metavar="CRON", help="keep running, checking on this cron schedule")
@click.option("--tracking-uri", help="MLflow tracking server (default: SQLite under WORKDIR/.mlopsc/)")
@click.option("--workdir", type=click.Path(file_okay=False))
def monitor_command(spec, data, schedule, tracking_uri, workdir) -> None:
    """Run the monitor pipeline on new data: drift report (HTML + JSON); exit 1 on a violation."""
    from mlopsc.runtime.service import monitor

    sys.exit(monitor(spec, data, schedule=schedule, tracking_uri=tracking_uri, workdir=workdir))


__all__ = ["monitor_command", "run_command", "serve_command", "step_command"]
