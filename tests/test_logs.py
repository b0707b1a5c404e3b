"""The log filter that keeps RQ's job failures to one line, whatever RQ release wrote them."""

from __future__ import annotations

import logging

import pytest

from newsmon.logs import ExpectedFailures

TRACE = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n"
         "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection refused\n")
DELIVERY = ("Traceback (most recent call last):\n...\n"
            "newsmon.errors.DeliveryError: email via h:25 failed: refused\n")


def record(msg: str, args: tuple) -> logging.LogRecord:
    return logging.LogRecord("rq.worker", logging.ERROR, __file__, 1, msg, args, None)


@pytest.mark.parametrize("msg, head", [
    # rq 3: worker name, job id, function, traceback
    ("Worker %s: job %s: exception raised while executing (%s)\n%s", ("w1", "j1", "process_story")),
    # rq 2.4: job id, function, traceback
    ("[Job %s]: exception raised while executing (%s)\n%s", ("j1", "process_story")),
])
def test_an_expected_job_failure_is_one_line_in_either_rq_s_form(msg: str, head: tuple) -> None:
    expected = record(msg, (*head, TRACE))
    assert ExpectedFailures().filter(expected)
    line = expected.getMessage()
    assert "\n" not in line and "Traceback" not in line
    assert line.endswith("failed, RQ retries it if it may: "
                         "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection refused")
    assert "j1" in line and "process_story" in line
    # a delivery failure was logged by its job (attempt n of m): RQ's record of it is dropped
    assert not ExpectedFailures().filter(record(msg, (*head, DELIVERY)))
    # anything else keeps its traceback
    bug = record(msg, (*head, "Traceback (most recent call last):\n...\nKeyError: 'x'\n"))
    assert ExpectedFailures().filter(bug)
    assert "KeyError: 'x'" in bug.getMessage() and "Traceback" in bug.getMessage()
