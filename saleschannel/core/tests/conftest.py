"""Fixtures shared by the core test modules."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture
def request_log(caplog):
    """caplog, receiving the request log (saleschannel.requests) at INFO for this test."""
    logger = logging.getLogger("saleschannel.requests")
    logger.addHandler(caplog.handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield caplog
    logger.setLevel(previous)
    logger.removeHandler(caplog.handler)
