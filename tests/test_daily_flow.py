"""The daily run as a Prefect flow under the test harness, configured from the environment like a deployment."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from flows.daily import daily_reminders
from models import Person
from tests.support import factory

DAY = date(2024, 1, 31)
NOW = datetime(2024, 1, 31, 0, 30, tzinfo=UTC)


@pytest.fixture
def env(flow_env, smtp_sink, rt):
    flow_env.setenv("RECTIFY_SMTP__HOST", "127.0.0.1")
    flow_env.setenv("RECTIFY_SMTP__PORT", str(smtp_sink.port))
    with rt.sessions() as s, s.begin():
        g, r = factory.group(s, members=1), factory.round_(s)
        fin = factory.unit(s, "县财政局")
        town = factory.unit(s, "城关镇", kind="township", contact=None, leader=None)
        s.add(Person(name="无邮箱联系人", email=None, role="unit_contact", unit_id=town.id))
        factory.finding(s, unit=fin, round=r, group=g, due=date(2024, 1, 22))  # 督办
        factory.finding(s, unit=fin, round=r, group=g, due=DAY)  # 提醒 (due today)
        factory.finding(s, unit=town, round=r, group=g, due=date(2024, 1, 30))  # 催办, contact has no address
    return flow_env


def test_it_runs_the_day_as_a_flow_of_batch_tasks_and_leaves_a_summary_artifact(
        prefect_harness, env, smtp_sink) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

    state = daily_reminders(as_of=DAY, now=NOW, return_state=True)
    result = state.result()
    assert result["messages"] == 3 and result["sent"] == 3 and result["escalations"] == {"supervise": 1, "remind": 1}
    assert len(smtp_sink.received) == 3
    assert daily_reminders(as_of=DAY, now=NOW)["sent"] == 0  # same day again: nothing new

    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details
                                                                                              .flow_run_id])))
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["daily-reminders"])))
    # Batches, never a task per finding or per mail.
    assert sorted(t.task_key.rsplit("-", 1)[0] for t in tasks) == ["commit_task", "notices_task", "plan_task",
                                                                   "render_task", "send_task"]
    text = next(a.data for a in arts if a.flow_run_id == state.state_details.flow_run_id)
    assert "# 每日提醒与督办：2024年1月31日" in text
    assert "| 邮件 | 3 |" in text and "| 已发送 | 3 |" in text
    assert "| 城关镇单位联系人 | 未登记邮箱 | 1 |" in text  # unreachable, never silently dropped


def test_it_sends_nothing_on_a_holiday_as_a_flow(prefect_harness, env, smtp_sink) -> None:
    result = daily_reminders(as_of=date(2024, 2, 12), now=NOW)
    assert result["working_day"] is False and result["messages"] == 0 and smtp_sink.received == []
