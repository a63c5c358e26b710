"""The `compiled` fixture: (project, files, diagnostics) for every example spec."""

import pytest
from sm_helpers import SPECS, compile_spec


@pytest.fixture(scope="session", params=SPECS)
def compiled(request):
    return compile_spec(request.param)
