import subprocess
import sys


def test_importing_the_runtime_package_pulls_in_nothing_heavy():
    code = (
        "import sys, mlopsc.runtime, mlopsc.runtime.example_churn; "
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
