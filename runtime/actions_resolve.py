"""The `resolve_data` action: which version of each dataset a run will read, without reading it.

It runs first in the train pipeline and is never cached. Its outputs (`version_<dataset>`, the
object's own version: `sha256:` of a local file, an S3 VersionId or ETag, a GCS generation, a
DVC md5) are validate-data's inputs, so the cache key of validate-data, and of every step after
it, changes exactly when the data changes: on KFP as task inputs, on SageMaker as step arguments
(`Std:JsonGet` of this step's property file), in `mlopsc run` as input values.
"""

from __future__ import annotations

from mlopsc.runtime.steps import StepContext, StepFailed, write_json

PREFIX = "version_"


def resolve_data(ctx: StepContext) -> dict:
    from mlopsc.runtime import storage

    data = ctx.project.data
    if data is None or not data.datasets:
        raise StepFailed("the spec declares no datasets to resolve")
    versions: dict[str, str] = {}
    for ds in data.datasets:
        requested = ctx.inputs.get(PREFIX + ds.name) or ds.version
        try:
            versions[ds.name] = storage.resolve(ds.name, ds.uri, requested, ctx.spec_dir).version
        except storage.StorageError as e:
            raise StepFailed(str(e)) from None
    for name, version in versions.items():
        if PREFIX + name in ctx.outputs:
            write_json(ctx.output(PREFIX + name), version)
        ctx.log(f"{name}: {version}")
    return {"versions": versions}
