"""Every IR class (and Diagnostic) behaves like the plain `@dataclass(frozen=True)` it replaces:
same fields, init, repr, equality, hashing, ordering, immutability, `replace` and `asdict`."""

import dataclasses
import importlib
import inspect

import pytest
from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.ir_node import Node, Record

# The other frozen records of the compile path are nodes too (their import cost is part of every compile).
OTHER_MODULES = ("mlopsc.contract", "mlopsc.image_context", "mlopsc.target_settings", "mlopsc.cron",
                 "mlopsc.cost.model", "mlopsc.cost.compute", "mlopsc.targets.base", "mlopsc.targets.llm_serving",
                 "mlopsc.targets.kubeflow.settings", "mlopsc.targets.local.settings",
                 "mlopsc.targets.sagemaker.settings", "mlopsc.targets.sagemaker.serving",
                 "mlopsc.targets.sagemaker.instance_types", "mlopsc.targets.vertex.settings",
                 "mlopsc.targets.vertex.machines")


def _all_nodes() -> set[type]:
    found = {obj for obj in vars(ir).values() if inspect.isclass(obj) and issubclass(obj, Node) and obj is not Node}
    for name in OTHER_MODULES:
        module = importlib.import_module(name)
        found |= {obj for obj in vars(module).values()
                  if inspect.isclass(obj) and issubclass(obj, Node) and obj.__module__ == name}
    return found | {Diagnostic}


NODES = sorted((c for c in _all_nodes() if not hasattr(c, "__post_init__")), key=lambda c: f"{c.__module__}.{c.__name__}")


def _twin(cls):
    """A plain frozen dataclass with the same fields, the behaviour @node must match."""
    fields = [(f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory,
                                                   compare=f.compare, repr=f.repr))
              for f in dataclasses.fields(cls)]
    order = cls.__dataclass_params__.order
    return dataclasses.make_dataclass(cls.__name__, fields, frozen=True, order=order)


def _values(cls, salt):
    return [(f.name, (salt, i)) for i, f in enumerate(dataclasses.fields(cls))]


def test_every_ir_class_is_a_node():
    assert len(NODES) > 60
    for module in (ir, *map(importlib.import_module, OTHER_MODULES)):
        for obj in vars(module).values():
            if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__ \
                    and obj.__dataclass_params__.frozen:  # a mutable record (cost.model.Estimate) stays a dataclass
                assert issubclass(obj, Node), obj


def test_post_init_runs_after_the_fields_are_set():
    from mlopsc.targets.sagemaker.settings import Settings

    settings = Settings(region="r", role="x", bucket="s3://b/p/")
    assert settings.bucket == "s3://b/p" and settings.s3("a/", "/c") == "s3://b/p/a/c"
    assert dataclasses.replace(settings, bucket="s3://c//").bucket == "s3://c"


@pytest.mark.parametrize("cls", NODES, ids=lambda c: c.__name__)
def test_behaves_like_a_frozen_dataclass(cls):
    twin = _twin(cls)
    a, b = dict(_values(cls, 1)), dict(_values(cls, 2))
    ours, theirs = cls(**a), twin(**a)
    assert repr(ours).replace(cls.__qualname__, "X") == repr(theirs).replace(twin.__qualname__, "X")
    assert hash(ours) == hash(theirs)
    assert ours == cls(**a) and ours != cls(**b) and ours != theirs
    assert dataclasses.asdict(ours) == dataclasses.asdict(theirs)
    assert dataclasses.replace(ours, **b) == cls(**b)
    assert cls(*a.values()) == ours  # positional, in field order
    assert [f.name for f in dataclasses.fields(ours)] == list(a)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ours.__setattr__(next(iter(a)), 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(ours, next(iter(a)))
    assert cls.__dataclass_params__.frozen and cls.__dataclass_params__.eq
    if cls.__dataclass_params__.order:
        assert (cls(**a) < cls(**b)) == (twin(**a) < twin(**b)) is True


@pytest.mark.parametrize("cls", NODES, ids=lambda c: c.__name__)
def test_wrong_arguments_are_type_errors(cls):
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    values = dict(_values(cls, 1))
    if required:
        with pytest.raises(TypeError, match=required[-1]):
            cls(**{k: v for k, v in values.items() if k != required[-1]})
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        cls(**values, nope=1)
    with pytest.raises(TypeError, match="positional arguments"):
        cls(*values.values(), 1)
    first = next(iter(values))
    with pytest.raises(TypeError, match="multiple values"):
        cls(values[first], **values)


def test_pickle_and_deepcopy_round_trip():
    import copy
    import os
    import pickle

    from mlopsc import api

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    project = api.load_project(os.path.join(root, "specs", "churn.yaml"))
    assert pickle.loads(pickle.dumps(project)) == project
    clone = copy.deepcopy(project)
    assert clone == project and hash(clone) == hash(project) and clone is not project


def test_defaults_apply():
    step = ir.Step("s", "train", "training")
    assert step.inputs == () and step.cache is True and step.span == ir.NO_SPAN


def test_span_path_is_not_compared():
    assert ir.Span("f", 1, 2, ("a",)) == ir.Span("f", 1, 2, ("b",))
    assert hash(ir.Span("f", 1, 2, ("a",))) == hash(ir.Span("f", 1, 2))
    assert repr(ir.Span("f", 1, 2, ("a",))) == "Span(file='f', line=1, col=2)"


RECORDS = [("mlopsc.loader", "SourceMap"), ("mlopsc.loader", "Document"), ("mlopsc.api", "CompileResult"),
           ("mlopsc.cost.model", "Estimate"), ("mlopsc.cost.prices", "PriceBook"),
           ("mlopsc.targets.kfp_ir.builder", "Compiled"), ("mlopsc.targets.sagemaker.argv", "Argv")]


@pytest.mark.parametrize("module, name", RECORDS, ids=lambda v: v)
def test_a_record_behaves_like_a_mutable_dataclass(module, name):
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, Record)
    fields = [(f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory))
              for f in dataclasses.fields(cls)]
    twin = dataclasses.make_dataclass(name, fields)
    a, b = dict(_values(cls, 1)), dict(_values(cls, 2))
    ours, theirs = cls(**a), twin(**a)
    assert repr(ours).replace(cls.__qualname__, "X") == repr(theirs).replace(name, "X")
    assert ours == cls(**a) and ours != cls(**b) and ours != theirs
    assert dataclasses.asdict(ours) == dataclasses.asdict(theirs)
    assert dataclasses.replace(ours, **b) == cls(**b)
    with pytest.raises(TypeError, match="unhashable"):
        hash(ours)
    first = next(iter(a))
    setattr(ours, first, "changed")
    assert getattr(ours, first) == "changed" and ours != cls(**a)
    assert not cls.__dataclass_params__.frozen and cls.__dataclass_params__.eq
    defaulted = [f for f in dataclasses.fields(cls) if f.default_factory is not dataclasses.MISSING]
    if defaulted:  # each instance gets its own default, as with field(default_factory=...)
        required = {f.name: 0 for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        assert getattr(cls(**required), defaulted[0].name) is not getattr(cls(**required), defaulted[0].name)


def test_every_mutable_record_of_the_compile_path_is_listed():
    for module in {m for m, _ in RECORDS}:
        for obj in vars(importlib.import_module(module)).values():
            if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__module__ == module \
                    and not obj.__dataclass_params__.frozen and not obj.__name__.startswith("_"):
                assert (module, obj.__name__) in RECORDS
