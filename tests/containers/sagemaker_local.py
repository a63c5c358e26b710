"""Executing a compiled SageMaker pipeline definition step by step as SageMaker Pipelines does,
each job a container of the step image under SageMaker's container contract, S3 being moto's
server. No offline SageMaker runs pipelines, and the SDK's local mode only runs pipelines built
with its own Python objects, so this reads the definition JSON itself:

- expressions: `Get` (Parameters, Execution.PipelineExecutionId, Steps.<step>.<property path>),
  `Std:Join`, `Std:JsonGet` over a step's PropertyFiles (read from the output the file names);
- Processing jobs: each ProcessingInput's S3 prefix downloaded and mounted at its LocalPath, the
  container run with ContainerEntrypoint/Arguments and Environment, each output directory
  uploaded to its S3Uri at the end (S3UploadMode EndOfJob);
- Training jobs: channels under /opt/ml/input/data/<channel>, hyperparameters.json and
  inputdataconfig.json under /opt/ml/input/config, /opt/ml/model packed into
  `<S3OutputPath>/<job>/output/model.tar.gz`, /opt/ml/output/failure read when the job fails;
- Condition steps evaluated from the definition, Fail steps stop the execution, RegisterModel
  calls CreateModelPackage on moto (botocore validates the resolved request);
- step caching as the SageMaker documentation defines the key: for Processing, AppSpecification,
  Environment and ProcessingInputs; for Training, AlgorithmSpecification, CheckpointConfig,
  Environment, HyperParameters and InputDataConfig (resolved values), within the same pipeline.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tarfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CACHE_KEYS = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": ("AlgorithmSpecification", "CheckpointConfig", "Environment", "HyperParameters", "InputDataConfig"),
}


class StepError(Exception):
    """A step of the execution failed; the message is what SageMaker would show as FailureReason."""


@dataclass
class Execution:
    definition: dict
    parameters: dict[str, str]
    s3: Any  # a boto3 S3 client (moto)
    sagemaker: Any  # a boto3 SageMaker client (moto)
    workdir: Path
    container_env: dict[str, str]
    docker_env: dict[str, str]
    cache: dict[str, dict]  # cache key -> step properties, shared by the executions of one pipeline
    id: str = field(default_factory=lambda: "exec-" + uuid.uuid4().hex[:12])
    properties: dict[str, dict] = field(default_factory=dict)
    property_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)  # steps that ran a job
    cached: list[str] = field(default_factory=list)  # steps served from the cache
    skipped: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- expressions

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Get"}:
            return self.get(value["Get"])
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            return join["On"].join(str(self.resolve(v)) for v in join["Values"])
        if set(value) == {"Std:JsonGet"}:
            spec = value["Std:JsonGet"]
            document = self.resolve(spec["PropertyFile"])
            return json_path(document, spec["Path"])
        return {k: self.resolve(v) for k, v in value.items()}

    def get(self, path: str) -> Any:
        head, _, rest = path.partition(".")
        if head == "Parameters":
            return self.parameters[rest]
        if path == "Execution.PipelineExecutionId":
            return self.id
        if head == "Steps":
            step, _, prop = rest.partition(".")
            if prop.startswith("PropertyFiles."):
                return self.property_files[step][prop.split(".", 1)[1]]
            return json_path(self.properties[step], prop)
        raise KeyError(f"unsupported expression Get {path}")

    # ---------------------------------------------------------------- steps

    def run(self) -> None:
        for step in self.definition["Steps"]:
            self.run_step(step)

    def run_step(self, step: dict) -> None:
        kind = step["Type"]
        if kind == "Condition":
            return self.condition(step)
        if kind == "Fail":
            raise StepError(f"{step['Name']}: {self.resolve(step['Arguments']['ErrorMessage'])}")
        args = self.resolve(step["Arguments"])
        if kind == "RegisterModel":
            self.properties[step["Name"]] = register_model(self.sagemaker, args)
            self.ran.append(step["Name"])
            return None
        key = self.cache_key(kind, args) if step.get("CacheConfig", {}).get("Enabled") else None
        if key and key in self.cache:
            props = self.cache[key]
            self.cached.append(step["Name"])
        else:
            props = processing_job(self, step, args) if kind == "Processing" else training_job(self, step, args)
            self.ran.append(step["Name"])
            if key:
                self.cache[key] = props
        self.properties[step["Name"]] = props
        self.read_property_files(step, props)
        return None

    def cache_key(self, kind: str, args: dict) -> str:
        keyed = json.loads(json.dumps({k: args.get(k) for k in CACHE_KEYS[kind]}))  # a copy: LocalPath goes
        for i in keyed.get("ProcessingInputs") or []:
            i.get("S3Input", {}).pop("LocalPath", None)
        return kind + ":" + hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()

    def condition(self, step: dict) -> None:
        args = step["Arguments"]
        holds = all(compare(c["Type"], self.resolve(c["LeftValue"]), self.resolve(c["RightValue"]))
                    for c in args["Conditions"])
        self.properties[step["Name"]] = {"Outcome": holds}
        branch, other = ("IfSteps", "ElseSteps") if holds else ("ElseSteps", "IfSteps")
        self.skipped += [s["Name"] for s in args.get(other, [])]
        for inner in args.get(branch, []):
            self.run_step(inner)

    def read_property_files(self, step: dict, props: dict) -> None:
        for pf in step.get("PropertyFiles", []):
            output = props["ProcessingOutputConfig"]["Outputs"][pf["OutputName"]]["S3Output"]["S3Uri"]
            body = s3_read(self.s3, f"{output.rstrip('/')}/{pf['FilePath']}")
            self.property_files.setdefault(step["Name"], {})[pf["PropertyFileName"]] = json.loads(body)


# -------------------------------------------------------------------- jobs


def processing_job(ex: Execution, step: dict, args: dict) -> dict:
    job = f"{step['Name']}-{uuid.uuid4().hex[:8]}"
    root = ex.workdir / job
    mounts: list[tuple[Path, str]] = []
    for i in args.get("ProcessingInputs", []):
        local = root / "input" / i["InputName"]
        s3_download(ex.s3, i["S3Input"]["S3Uri"], local)
        mounts.append((local, i["S3Input"]["LocalPath"]))
    outputs = args.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for o in outputs:
        local = root / "output" / o["OutputName"]
        local.mkdir(parents=True)
        mounts.append((local, o["S3Output"]["LocalPath"]))
    app = args["AppSpecification"]
    argv = app.get("ContainerEntrypoint", []) + app.get("ContainerArguments", [])
    proc = docker_run(ex, app["ImageUri"], argv, mounts, args.get("Environment", {}))
    if proc.returncode != 0:
        raise StepError(f"{step['Name']}: processing job {job} failed (exit {proc.returncode}): "
                        + last_lines(proc.stderr))
    for o in outputs:
        s3_upload(ex.s3, root / "output" / o["OutputName"], o["S3Output"]["S3Uri"])
    return {"ProcessingJobName": job, "ProcessingJobStatus": "Completed",
            "ProcessingOutputConfig": {"Outputs": {o["OutputName"]: o for o in outputs}}}


def training_job(ex: Execution, step: dict, args: dict) -> dict:
    job = f"{step['Name']}-{uuid.uuid4().hex[:8]}"
    ml = ex.workdir / job / "opt-ml"
    for sub in ("model", "output/data", "input/config"):
        (ml / sub).mkdir(parents=True)
    channels = {}
    for ch in args.get("InputDataConfig", []):
        s3_download(ex.s3, ch["DataSource"]["S3DataSource"]["S3Uri"], ml / "input" / "data" / ch["ChannelName"])
        channels[ch["ChannelName"]] = {"TrainingInputMode": ch.get("InputMode", "File")}
    (ml / "input/config/hyperparameters.json").write_text(json.dumps(args.get("HyperParameters", {})))
    (ml / "input/config/inputdataconfig.json").write_text(json.dumps(channels))
    algo = args["AlgorithmSpecification"]
    argv = (algo.get("ContainerEntrypoint", []) + algo.get("ContainerArguments", [])) or ["train"]
    proc = docker_run(ex, algo["TrainingImage"], argv, [(ml, "/opt/ml")], args.get("Environment", {}))
    if proc.returncode != 0:
        failure = ml / "output" / "failure"
        reason = failure.read_text().strip() if failure.exists() else last_lines(proc.stderr)
        raise StepError(f"{step['Name']}: training job {job} failed: {reason}")
    prefix = f"{args['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job}/output"
    model_uri = f"{prefix}/model.tar.gz"
    s3_put_tar(ex.s3, ml / "model", model_uri)
    s3_put_tar(ex.s3, ml / "output" / "data", f"{prefix}/output.tar.gz")
    return {"TrainingJobName": job, "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": model_uri}}


def register_model(sagemaker, args: dict) -> dict:
    """RegisterModel: the request SageMaker Pipelines makes (botocore validates it)."""
    group = args["ModelPackageGroupName"]
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except sagemaker.exceptions.ClientError:
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
    arn = sagemaker.create_model_package(**args)["ModelPackageArn"]
    return {"ModelPackageArn": arn}


def docker_run(ex: Execution, image: str, argv: list[str], mounts: list[tuple[Path, str]],
               environment: dict[str, str]) -> subprocess.CompletedProcess:
    cmd = ["docker", "run", "--rm", "--network", "host"]
    for host, inside in mounts:
        cmd += ["-v", f"{host}:{inside}"]
    for k, v in {**ex.container_env, **environment}.items():
        cmd += ["-e", f"{k}={v}"]
    if argv and argv[0] != "train":
        cmd += ["--entrypoint", argv[0], image, *argv[1:]]
    else:
        cmd += [image, *argv]
    return subprocess.run(cmd, capture_output=True, text=True, env=ex.docker_env, timeout=900)


# -------------------------------------------------------------------- helpers


def json_path(document: Any, path: str) -> Any:
    """`A.B['x'].C[0]` over nested dicts/lists (SageMaker property paths and JsonGet paths)."""
    for name, key, index in re.findall(r"([A-Za-z0-9_-]+)|\['([^']*)'\]|\[(\d+)\]", path):
        document = document[name or key] if (name or key) else document[int(index)]
    return document


def compare(kind: str, left: Any, right: Any) -> bool:
    ops = {"Equals": lambda a, b: a == b, "GreaterThanOrEqualTo": lambda a, b: a >= b,
           "GreaterThan": lambda a, b: a > b, "LessThanOrEqualTo": lambda a, b: a <= b,
           "LessThan": lambda a, b: a < b}
    return ops[kind](left, right)


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def s3_read(s3, uri: str) -> bytes:
    bucket, key = split_s3(uri)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def s3_download(s3, uri: str, dest: Path) -> None:
    """An S3Prefix input: every object under the prefix (a single object lands under its name)."""
    bucket, prefix = split_s3(uri)
    dest.mkdir(parents=True, exist_ok=True)
    found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    if not found:
        raise StepError(f"input {uri} holds no objects")
    for obj in found:
        rel = obj["Key"][len(prefix):].lstrip("/") or obj["Key"].rsplit("/", 1)[-1]
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())


def s3_upload(s3, src: Path, uri: str) -> None:
    bucket, prefix = split_s3(uri)
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        s3.put_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/{path.relative_to(src).as_posix()}",
                      Body=path.read_bytes())


def s3_put_tar(s3, src: Path, uri: str) -> None:
    archive = src.parent / (src.name + ".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(src.iterdir()):
            tar.add(path, arcname=path.name)
    bucket, key = split_s3(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=archive.read_bytes())


def last_lines(text: str, n: int = 5) -> str:
    return " | ".join((text or "").strip().splitlines()[-n:])
