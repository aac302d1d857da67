"""The `import_findings` flow under Prefect's test harness, configured from the environment as a deployment is."""


import pytest
from sqlalchemy import func, select

from flows.import_findings import import_findings
from models import Finding
from rectify.intake.errors import ImportRejected
from tests.support import factory

HEAD = "督导轮次,督导组,督导日期,责任单位,问题描述,整改意见,整改时限\n"


@pytest.fixture
def env(flow_env, rt):
    with rt.sessions() as s:
        factory.unit(s, "城关镇", "township")
        s.commit()
    return flow_env


def test_it_imports_a_file_as_a_flow_and_fails_a_bad_one_without_retrying(prefect_harness, env, rt, tmp_path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(HEAD + "2024年第一轮,第一督导组,2024-01-10,城关镇,问题一,整改,立行立改\n", encoding="gbk")
    out = import_findings(str(good))
    assert (out["created"], out["new_rounds"]) == (1, ["2024年第一轮"])
    assert import_findings(str(good))["unchanged"] == 1

    bad = tmp_path / "bad.csv"
    bad.write_text(HEAD + "2024年第一轮,第一督导组,2024-01-10,城关镇,问题二,整改,尽快\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match="第2行"):
        import_findings(str(bad))
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Finding)) == 1
