"""The churn example's user code, imported from its files in specs/churn_local/ so the tests
exercise what users copy and run (the example imports nothing from mlopsc):

    from churn_example_code import EXAMPLE, customer_activity, make_data, train
"""

import importlib.util
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "specs" / "churn_local"


def _load(stem, **siblings):
    """Import EXAMPLE/<stem>.py as `churn_example_<stem>`. `siblings` are the modules its own
    imports name (train.py does `from features import ...`), in place only while it runs."""
    name = f"churn_example_{stem}"
    spec = importlib.util.spec_from_file_location(name, EXAMPLE / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    saved = {key: sys.modules.get(key) for key in siblings}
    sys.modules.update(siblings)
    try:
        spec.loader.exec_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    try:  # models are pickled into MLflow by value, as the runtime does with user code
        import cloudpickle
    except ImportError:
        pass
    else:
        cloudpickle.register_pickle_by_value(module)
    return module


make_data = _load("make_data")
features = _load("features")
train_module = _load("train", features=features)
customer_activity = features.customer_activity
train = train_module.train
