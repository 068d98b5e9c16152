"""Fixtures of the portal tests: the statement tests' closed October, clients per persona and the revenue catalogue."""

from tests.revenue.conftest import _english, active_x, active_y, loan, pay, source_client, source_system  # noqa: F401
from tests.revenue.statements.conftest import *  # noqa: F403
