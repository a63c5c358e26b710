import pytest
from mlopsc.units import cpu_cores, cron, duration_seconds, size_bytes


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("30m", 1800), ("4h", 14400), ("7d", 604800)])
def test_durations(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["30", "m", "1.5h", "0s", "-1m", "30 m", "1w"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        duration_seconds(text)


@pytest.mark.parametrize("value,expected", [("16Gi", 16 * 2**30), ("512Mi", 512 * 2**20), ("2G", 2 * 10**9),
                                            ("1.5Gi", int(1.5 * 2**30)), (1024, 1024)])
def test_sizes(value, expected):
    assert size_bytes(value) == expected


@pytest.mark.parametrize("value", ["16GB", "lots", 0, "0Mi", True])
def test_bad_sizes(value):
    with pytest.raises(ValueError):
        size_bytes(value)


@pytest.mark.parametrize("value,cores", [(4, 4.0), (0.5, 0.5), ("500m", 0.5), ("2000m", 2.0)])
def test_cpu(value, cores):
    assert cpu_cores(value) == cores


@pytest.mark.parametrize("value", ["2 cores", "0m", 0, -1, True])
def test_bad_cpu(value):
    with pytest.raises(ValueError):
        cpu_cores(value)


@pytest.mark.parametrize("expr,normal", [("0 6 * * *", "0 6 * * *"), ("@daily", "0 0 * * *"),
                                         ("*/15 0-6,22 1 jan-mar mon-fri", "*/15 0-6,22 1 jan-mar mon-fri"),
                                         ("0  3 * * 0", "0 3 * * 0")])
def test_cron(expr, normal):
    assert cron(expr) == normal


@pytest.mark.parametrize("expr", ["0 6 * *", "60 * * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "*/0 * * * *",
                                  "5-1 * * * *", "x * * * *", "0 0 * * 8"])
def test_bad_cron(expr):
    with pytest.raises(ValueError):
        cron(expr)
