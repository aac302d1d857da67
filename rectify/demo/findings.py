"""Realistic findings for the demo round: problems, opinions and every deadline form clerks type."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

# (存在问题, 整改意见) pairs of the kind a 法治政府建设 supervision round finds.
PROBLEMS: list[tuple[str, str]] = [
    ("行政执法公示制度落实不到位，执法主体、权限、依据等信息未在门户网站公开",
     "对照“三项制度”要求，于门户网站集中公开执法主体、人员、职责、权限、依据、程序、监督方式等信息"),
    ("行政执法全过程记录不完整，部分现场执法未配备执法记录仪",
     "配齐执法记录仪等音像记录设备，建立执法音像资料归档管理制度"),
    ("重大执法决定法制审核目录清单未制定",
     "结合本单位执法职责制定重大执法决定法制审核目录清单并报县司法局备案"),
    ("执法案卷归档不规范，部分案卷缺少送达回证",
     "组织对近两年执法案卷开展自查，补齐缺失材料，规范案卷装订归档"),
    ("部分行政执法人员未取得执法证件即参与执法",
     "立即停止无证人员执法活动，组织参加执法资格考试，做到持证上岗"),
    ("重大行政决策未履行公众参与、专家论证、风险评估等法定程序",
     "严格落实《重大行政决策程序暂行条例》，建立决策事项目录并向社会公布"),
    ("规范性文件未按规定报送备案审查",
     "对近三年制发的规范性文件进行全面梳理，按规定报送备案，建立文件管理台账"),
    ("合法性审查机制不健全，合同及文件未经法律顾问审查",
     "建立健全合法性审查机制，明确审查机构和流程，发挥法律顾问作用"),
    ("法律顾问聘用合同已过期，未及时续聘",
     "立即续聘法律顾问，明确服务内容，建立法律顾问工作台账"),
    ("领导干部学法制度落实不到位，年度学法计划未制定",
     "制定年度学法计划，落实党组（党委）理论学习中心组集体学法，做好学法记录"),
    ("普法责任制清单未向社会公开",
     "按照“谁执法谁普法”要求，制定并公开普法责任清单"),
    ("法治政府建设年度报告未按时在门户网站公开",
     "补充公开上一年度法治政府建设情况报告，今后每年3月底前按时公开"),
    ("政务公开专栏信息更新不及时，部分栏目长期空白",
     "明确专人负责政务公开工作，及时更新各栏目信息"),
    ("权责清单未根据机构改革及时调整",
     "对照“三定”方案动态调整权责清单，并在政府门户网站公布"),
    ("“双随机、一公开”抽查计划未制定，抽查结果未公示",
     "制定年度抽查计划，按规定公示抽查事项清单和抽查结果"),
    ("行政复议、行政诉讼案件败诉原因未认真分析",
     "建立败诉案件分析通报制度，查找执法薄弱环节，提出改进措施"),
    ("行政机关负责人出庭应诉率未达到要求",
     "严格落实行政机关负责人出庭应诉制度，确保出庭应诉率达到要求"),
    ("信访事项办理超期，群众诉求回应不及时",
     "对超期信访事项逐件清理，限期办结并做好答复反馈"),
    ("行政许可事项清单未动态调整，部分事项办理时限超过承诺时限",
     "梳理行政许可事项，压缩办理时限，向社会公开服务承诺"),
    ("涉企检查未实行计划管理，存在多头重复检查",
     "建立涉企检查计划管理制度，统筹合并检查事项，减少对企业正常经营的干扰"),
    ("行政处罚裁量基准未细化，同案不同罚现象仍有发生",
     "细化量化行政处罚裁量基准，并向社会公开"),
    ("法治宣传阵地建设滞后，宣传栏内容陈旧",
     "更新法治宣传栏内容，开展示范创建主题宣传活动"),
    ("法治政府建设工作专班人员不固定，资料收集整理不及时",
     "明确专班人员及职责，建立创建资料收集归档制度"),
    ("矛盾纠纷多元化解机制运行不畅，人民调解组织作用发挥不充分",
     "健全人民调解、行政调解、司法调解联动工作体系，建立纠纷排查化解台账"),
    ("行政执法监督机制不健全，未开展执法案卷评查",
     "建立执法监督工作制度，每半年开展一次执法案卷评查"),
    ("政府信息依申请公开答复不规范，答复期限超过法定期限",
     "规范依申请公开办理流程，严格按照法定期限答复"),
    ("<b>部分</b>执法文书使用不规范，文书格式不统一",  # typed with HTML: shown escaped everywhere
     "统一执法文书格式，组织开展执法文书制作培训"),
    ("安全生产执法检查记录不完整，隐患整改未闭环",
     "完善检查记录，建立隐患整改台账，实行销号管理"),
]

# Deadline cells as county clerks type them; every form the importer understands.
DEADLINES = ["立行立改", "10个工作日内", "15个工作日内", "30日内", "20天内", "月底前", "长期坚持",
             "{fixed}", "{fixed_cn}", "5个工作日内"]


@dataclass(frozen=True)
class DemoFinding:
    code: str
    group: str
    unit: str
    problem: str
    opinion: str
    deadline: str
    owner: str


def make_findings(units: list[str], groups: list[str], inspected: date, n: int, seed: int = 19,
                  owner_of=lambda unit: "") -> list[DemoFinding]:
    """`n` findings spread over the units, each group covering its own share of units."""
    rng = random.Random(seed)
    out: list[DemoFinding] = []
    seen: set[tuple[str, str]] = set()  # the importer refuses a unit's problem listed twice
    i = 0
    while len(out) < n and i < n * 20:
        unit = units[(i * 7 + rng.randrange(3)) % len(units)]
        group = groups[units.index(unit) % len(groups)]
        problem, opinion = PROBLEMS[(i + rng.randrange(len(PROBLEMS))) % len(PROBLEMS)]
        i += 1
        if (unit, problem) in seen:
            continue
        seen.add((unit, problem))
        form = DEADLINES[len(out) % len(DEADLINES)]
        fixed = date.fromordinal(inspected.toordinal() + rng.choice([12, 18, 25, 35]))
        deadline = form.format(fixed=fixed.isoformat(), fixed_cn=f"{fixed.year}年{fixed.month}月{fixed.day}日")
        out.append(DemoFinding(f"DY-{len(out) + 1:03d}", group, unit, problem, opinion, deadline, owner_of(unit)))
    return out
