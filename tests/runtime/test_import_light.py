import subprocess
import sys
from pathlib import Path


def test_importing_the_runtime_package_pulls_in_nothing_heavy():
    code = (
        "import sys, mlopsc.runtime; "
        "heavy = [m for m in ('torch', 'mlflow', 'pandas', 'numpy', 'scipy') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_servers_need_only_the_standard_library():
    code = (
        "import sys, mlopsc.runtime.serving, mlopsc.runtime.router, mlopsc.runtime.traffic; "
        "print(','.join(m for m in ('torch', 'mlflow', 'pandas', 'numpy', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_importing_the_example_code_does_not_import_torch():
    # mlopsc imports train.py to find `train`; torch loads only when training or predicting
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import churn_example_code; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
