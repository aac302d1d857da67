from datetime import UTC, datetime

import pytest

from rectify.core.lifecycle import Action, State, TransitionError, allowed_actions, transition

NOW = datetime(2024, 1, 20, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "action", "target"),
    [
        (State.OPEN, Action.REPORT, State.REPORTED),
        (State.REJECTED, Action.REPORT, State.REPORTED),
        (State.REPORTED, Action.VERIFY, State.CLOSED),
        (State.REPORTED, Action.REJECT, State.REJECTED),
        (State.OPEN, Action.CANCEL, State.CANCELLED),
        (State.REPORTED, Action.CANCEL, State.CANCELLED),
        (State.CLOSED, Action.REOPEN, State.OPEN),
    ],
)
def test_it_moves_along_legal_transitions(state: State, action: Action, target: State) -> None:
    t = transition(state, action, actor="张三", at=NOW, note="理由")
    assert (t.from_state, t.to_state, t.actor, t.at, t.note) == (state, target, "张三", NOW, "理由")


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (State.OPEN, Action.VERIFY),  # no 销号 without a report
        (State.CLOSED, Action.REPORT),
        (State.CLOSED, Action.CANCEL),
        (State.CANCELLED, Action.REPORT),
        (State.REPORTED, Action.REPORT),
        (State.OPEN, Action.REJECT),
    ],
)
def test_it_refuses_illegal_transitions(state: State, action: Action) -> None:
    with pytest.raises(TransitionError, match=f"cannot {action.value}"):
        transition(state, action, actor="x", at=NOW, note="n")


@pytest.mark.parametrize("action", [Action.REJECT, Action.CANCEL])
def test_it_needs_a_reason_to_reject_or_cancel(action: Action) -> None:
    with pytest.raises(TransitionError, match="needs a reason"):
        transition(State.REPORTED, action, actor="x", at=NOW, note="   ")


def test_it_refuses_naive_times() -> None:
    with pytest.raises(TransitionError, match="timezone"):
        transition(State.OPEN, Action.REPORT, actor="x", at=datetime(2024, 1, 1))


def test_it_lists_what_a_state_allows() -> None:
    assert allowed_actions(State.REPORTED) == {Action.VERIFY, Action.REJECT, Action.CANCEL}
    assert allowed_actions(State.CANCELLED) == set()
