"""Log lines: an expected refusal is one INFO line; a real error keeps its traceback."""
import logging
import sys

from seedwork.context import RefusalsAsInfo


def record(level, msg, exc_info=None):
    return logging.LogRecord("nameko.containers", level, __file__, 1, msg, ("worker", "no ticket 7"), exc_info)


def test_an_expected_refusal_becomes_one_info_line_without_its_traceback():
    try:
        raise LookupError("no ticket 7")
    except LookupError:
        refused = record(logging.WARNING, "(expected) error handling worker %s: %s", sys.exc_info())
    assert RefusalsAsInfo().filter(refused)
    assert (refused.levelno, refused.levelname, refused.exc_info) == (logging.INFO, "INFO", None)
    assert refused.getMessage() == "refused worker: no ticket 7"


def test_a_real_error_keeps_its_level_and_traceback():
    try:
        raise RuntimeError("the database went away")
    except RuntimeError:
        failed = record(logging.ERROR, "error handling worker %s: %s", sys.exc_info())
    assert RefusalsAsInfo().filter(failed)
    assert failed.levelno == logging.ERROR and failed.exc_info is not None
