"""The one cron implementation (`mlopsc.cron`) held to croniter on every form the validator
accepts, and `mlopsc monitor --schedule` with an @alias."""

import datetime as dt

import pytest
from croniter import CroniterBadDateError, croniter
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mlopsc import cron
from mlopsc.runtime import service

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def field(low, high, names=()):
    number = st.one_of(st.integers(low, high).map(str), *([st.sampled_from(names)] if names else []))
    value_of = {n: i for i, n in enumerate(names, start=low)} if names else {}

    def as_int(text):
        return value_of.get(text, None) if text in value_of else int(text)

    ranged = st.tuples(number, number).filter(lambda p: as_int(p[0]) <= as_int(p[1])).map("-".join)
    base = st.one_of(st.just("*"), number, ranged)
    part = st.one_of(base, st.tuples(base, st.integers(1, high)).map(lambda p: f"{p[0]}/{p[1]}"))
    return st.lists(part, min_size=1, max_size=3).map(",".join)


EXPRESSIONS = st.tuples(field(0, 59), field(0, 23), field(1, 31), field(1, 12, MONTHS), field(0, 7, DAYS)).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(EXPRESSIONS)
@example("* * * * 7/1")  # found by this test in CI: day 7 is Sunday, a step from it starts at 0
@example("* * * * 7/2")
def test_validator_agrees_with_croniter(expression):
    after = dt.datetime(2026, 1, 1, 0, 0)
    try:
        normalized = cron.normalize(expression)
    except ValueError:
        with pytest.raises(CroniterBadDateError):
            croniter(expression, after).get_next(dt.datetime)
        return
    assert croniter.is_valid(normalized)
    assert cron.next_run(expression, after) == croniter(normalized, after).get_next(dt.datetime)
    expanded, _ = croniter.expand(normalized)
    ours = [cron.expand(v, f) for v, f in zip(cron.fields(expression), cron.FIELDS)]
    for mine, theirs, f in zip(ours, expanded, cron.FIELDS):
        theirs = set(range(f.low, f.high + 1)) if "*" in theirs else set(theirs)
        assert {d % 7 for d in mine} == {d % 7 for d in theirs} if f.name == "day of week" else mine == theirs


@pytest.mark.parametrize("alias", sorted(cron.ALIASES))
def test_every_alias_runs(alias):
    after = dt.datetime(2026, 3, 14, 15, 9)
    assert cron.next_run(alias, after) == croniter(cron.ALIASES[alias], after).get_next(dt.datetime)


@pytest.mark.parametrize("expression", ["0 0 31 2 *", "0 0 30-31 feb *", "0 0 31 4,6,9,11 *", "0 0 30 2/12 *"])
def test_days_that_never_occur_are_rejected(expression):
    with pytest.raises(ValueError, match="never occurs"):
        cron.normalize(expression)


def test_leap_day_and_weekday_or_day_of_month_are_schedules():
    assert cron.next_run("0 0 29 2 *", dt.datetime(2026, 1, 1)) == dt.datetime(2028, 2, 29)
    # Both day fields restricted: either fires (31 February never does, Mondays in February do).
    assert cron.next_run("0 0 31 2 mon", dt.datetime(2026, 1, 1)) == dt.datetime(2026, 2, 2)


def test_a_range_of_one_value_is_that_value():
    # croniter 7.0 reads `1-1` as `*`; the normalized form every caller gets has `1`.
    assert cron.normalize("5-5 * 1-1/2 * mon-mon") == "5 * 1/2 * mon"
    assert cron.next_run("0 0 1-1 * *", dt.datetime(2026, 1, 5)) == dt.datetime(2026, 2, 1)


def test_monitor_schedule_daily_announces_the_next_check(tmp_path, monkeypatch, capsys):
    data = tmp_path / "new.csv"
    data.write_text("a,b\n1,2\n")

    def stop(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(service.time, "sleep", stop)
    code = service.monitor("specs/churn-local.yaml", str(data), schedule="@daily", workdir=str(tmp_path))
    out = capsys.readouterr().out
    assert code == 0
    tomorrow = (dt.datetime.now() + dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert f"next check at {tomorrow} 00:00" in out


def test_monitor_schedule_that_never_fires_is_refused(tmp_path, capsys):
    data = tmp_path / "new.csv"
    data.write_text("a,b\n1,2\n")
    code = service.monitor("specs/churn-local.yaml", str(data), schedule="0 0 31 2 *", workdir=str(tmp_path))
    assert code == 2
    assert "--schedule '0 0 31 2 *': day 31 of month 2 never occurs" in capsys.readouterr().err
