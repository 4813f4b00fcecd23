"""The alert rule: k of the last n windows open an episode, m normal in a row close it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aegan.errors import UsageError
from aegan.monitor.alerts import AlertRule, AlertTracker


@dataclass
class W:
    seq: int
    score: float
    anomalous: bool


def run(rule: AlertRule, decisions: list[bool]) -> list[tuple[int, str, object]]:
    tracker = AlertTracker(rule)
    changes = []
    for i, anomalous in enumerate(decisions):
        change, episode = tracker.update(W(i, float(i % 7) + anomalous, anomalous))
        if change:
            changes.append((i, change, episode))
    return changes


rules = st.builds(
    lambda n, k, m: AlertRule(min(k, n), n, m),
    st.integers(1, 8), st.integers(1, 8), st.integers(1, 8),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(rules, st.lists(st.booleans(), max_size=120))
def test_episodes_open_once_close_once_and_never_on_fewer_than_k(rule, decisions):
    changes = run(rule, decisions)
    kinds = [c for _, c, _ in changes]
    assert kinds == ["opened", "closed"] * (len(kinds) // 2) + ["opened"] * (len(kinds) % 2)
    for index, change, episode in changes:
        if change == "opened":
            window = decisions[max(0, index - rule.n + 1) : index + 1]
            assert sum(window) >= rule.k  # never on fewer than k of the last n
            assert decisions[index]  # it opens on the anomalous window that makes k
        else:
            assert not any(decisions[index - rule.clear + 1 : index + 1])  # m normal in a row
            assert decisions[episode.last.seq]
            assert episode.windows == episode.last.seq - episode.first.seq + 1
            span = decisions[episode.first.seq : episode.last.seq + 1]
            assert episode.anomalous == sum(span)
            assert episode.worst.score == max(
                float(i % 7) + 1 for i in range(episode.first.seq, episode.last.seq + 1)
                if decisions[i]
            )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(rules, st.lists(st.booleans(), max_size=80))
def test_no_alert_while_no_n_windows_hold_k_anomalous(rule, decisions):
    reached = any(
        sum(decisions[max(0, i - rule.n + 1) : i + 1]) >= rule.k for i in range(len(decisions))
    )
    assert bool(run(rule, decisions)) == reached


def test_one_noisy_window_raises_nothing_and_a_fault_that_comes_and_goes_raises_one():
    rule = AlertRule(3, 5, 5)
    assert run(rule, [False] * 5 + [True] + [False] * 10) == []
    flicker = [False] * 3 + [True, False, True, True, False, True, False, True] * 3 + [False] * 6
    assert [c for _, c, _ in run(rule, flicker)] == ["opened", "closed"]


@pytest.mark.parametrize("text", ["3", "6/5", "0/5", "a/b", "3/5/1"])
def test_bad_rules_are_refused_with_the_form_to_use(text):
    with pytest.raises(UsageError, match="alert rule"):
        AlertRule.parse(text)


def test_the_clear_count_defaults_to_n():
    assert AlertRule.parse("2/4") == AlertRule(2, 4, 4)
    assert str(AlertRule.parse(" 3 / 5 ", 7)) == "3/5, clear 7"
