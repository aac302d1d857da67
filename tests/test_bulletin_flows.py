"""The two flows under Prefect's test harness, configured from the environment as a deployment is."""

from datetime import date

import pytest
from sqlalchemy import func, select

from flows.bulletin import compile_bulletin
from flows.digest import weekly_digest
from models import Bulletin
from rectify.bulletin.errors import BulletinError
from tests.support import bulletin_data


@pytest.fixture
def env(flow_env, rt):
    """The flows' environment (see conftest.flow_env), the series starting at 第20期, and seeded data."""
    flow_env.setenv("RECTIFY_BULLETIN__START_ISSUE", "20")
    with rt.sessions() as s:
        bulletin_data.seed(s)
    return flow_env


def test_it_compiles_the_bulletin_as_a_flow(prefect_harness, env, rt, settings) -> None:
    out = compile_bulletin(as_of=bulletin_data.AS_OF)
    assert out["issue_no"] == 20 and out["stats"]["new_closed"] == 2 and not out["draft"]
    assert (settings.bulletins_path / "工作简报第20期.docx").is_file()
    with pytest.raises(BulletinError, match="already been issued"):
        compile_bulletin(as_of=date(2024, 1, 26), issue_no=20)
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Bulletin)) == 1


def test_it_mails_the_weekly_digest_as_a_flow_once(prefect_harness, env, smtp_sink) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    env.setenv("RECTIFY_SMTP__HOST", "127.0.0.1")
    env.setenv("RECTIFY_SMTP__PORT", str(smtp_sink.port))
    first = weekly_digest(week_of=date(2024, 1, 19))
    assert (first["week_start"], first["queued"], first["sent"]) == ("2024-01-15", 1, 1)
    assert (first["unit_colours"], first["red_units"]) == ({"red": 1, "yellow": 0, "blue": 0}, ["县公安局"])
    second = weekly_digest(week_of=date(2024, 1, 21))
    assert (second["queued"], second["sent"]) == (0, 0)
    assert len(smtp_sink.received) == 1
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["weekly-digest"])))
    assert arts and "整改周报" in arts[0].data
