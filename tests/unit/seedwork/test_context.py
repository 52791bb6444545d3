"""Log lines: an expected refusal is one INFO line; a real error keeps its traceback."""
import logging
import sys

from seedwork.context import RefusalsAsInfo


def logged(level: int, message: str, error: Exception) -> logging.LogRecord:
    """The record Nameko's container writes for a worker that raised ``error``."""
    try:
        raise error
    except Exception:  # noqa: BLE001 - the traceback is the point
        exc_info = sys.exc_info()
    return logging.LogRecord("nameko.containers", level, __file__, 1, message, ("worker", str(error)), exc_info)


def test_an_expected_refusal_becomes_one_info_line_without_its_traceback():
    refused = logged(logging.WARNING, "(expected) error handling worker %s: %s", LookupError("no ticket 7"))
    assert RefusalsAsInfo().filter(refused)
    assert (refused.levelno, refused.levelname, refused.exc_info) == (logging.INFO, "INFO", None)
    assert refused.getMessage() == "refused worker: no ticket 7"


def test_a_real_error_keeps_its_level_and_traceback():
    failed = logged(logging.ERROR, "error handling worker %s: %s", RuntimeError("the database went away"))
    assert RefusalsAsInfo().filter(failed)
    assert failed.levelno == logging.ERROR and failed.exc_info is not None
