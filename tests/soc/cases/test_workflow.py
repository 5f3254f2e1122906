"""The case state machine: every allowed move succeeds, every other one is a 409 naming the allowed."""

from __future__ import annotations

import itertools

import pytest

from app.core.errors import Conflict, ValidationFailed
from app.soc.cases import services
from app.soc.cases.workflow import TRANSITIONS, CaseStatus, allowed_transitions, check_transition

S = CaseStatus
EXPECTED = {
    S.NEW: {S.TRIAGE, S.INVESTIGATING, S.CLOSED},
    S.TRIAGE: {S.INVESTIGATING, S.CLOSED},
    S.INVESTIGATING: {S.CONTAINED, S.CLOSED},
    S.CONTAINED: {S.INVESTIGATING, S.ERADICATED, S.CLOSED},
    S.ERADICATED: {S.INVESTIGATING, S.RECOVERED, S.CLOSED},
    S.RECOVERED: {S.INVESTIGATING, S.CLOSED},
    S.CLOSED: {S.INVESTIGATING},
}
PAIRS = list(itertools.product(CaseStatus, CaseStatus))


def test_the_table_is_the_documented_one():
    assert {k: set(v) for k, v in TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize(("current", "to"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition_is_allowed_or_refused_naming_the_allowed(current, to):
    if to in EXPECTED[current]:
        check_transition(current, to)
        return
    with pytest.raises(Conflict) as err:
        check_transition(current, to, reference="CASE-1")
    assert err.value.details["allowed"] == allowed_transitions(current)
    for allowed in allowed_transitions(current):
        assert allowed in err.value.message


# The shortest path from new to each status, through the services.
PATHS = {
    S.NEW: [], S.TRIAGE: [S.TRIAGE], S.INVESTIGATING: [S.INVESTIGATING],
    S.CONTAINED: [S.INVESTIGATING, S.CONTAINED], S.ERADICATED: [S.INVESTIGATING, S.CONTAINED, S.ERADICATED],
    S.RECOVERED: [S.INVESTIGATING, S.CONTAINED, S.ERADICATED, S.RECOVERED], S.CLOSED: [S.CLOSED],
}


@pytest.mark.parametrize(("current", "to"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_transition_case_follows_the_table(analyst, case, current, to):
    for step in PATHS[current]:
        services.transition_case(case, step, actor=analyst, resolution="done" if step is S.CLOSED else None)
    assert case.status is current
    if to in EXPECTED[current]:
        services.transition_case(case, to, actor=analyst, resolution="Contained and cleaned.")
        assert case.status is to
        assert (case.closed_at is not None) == (to is S.CLOSED)
    else:
        with pytest.raises(Conflict):
            services.transition_case(case, to, actor=analyst, resolution="x")
        assert case.status is current


def test_close_case_without_resolution_is_refused(analyst, case):
    with pytest.raises(ValidationFailed) as err:
        services.transition_case(case, "closed", actor=analyst, resolution="  ")
    assert "resolution" in err.value.field_errors
    assert case.status is S.NEW


def test_reopen_goes_back_to_investigating_and_clears_closed_at(analyst, case):
    services.close_case(case, actor=analyst, resolution="False positive: admin script.")
    services.reopen_case(case, actor=analyst)
    assert case.status is S.INVESTIGATING
    assert case.closed_at is None


def test_unknown_status_is_a_validation_error(analyst, case):
    with pytest.raises(ValidationFailed):
        services.transition_case(case, "solved", actor=analyst)
