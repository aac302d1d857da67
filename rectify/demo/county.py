"""The demo county: the departments the reference bulletin names, plausible others, and townships.

Demo data is data, not wording: it stands in for what a county types into its spreadsheets.
"""

from __future__ import annotations

COUNTY = "鲁山县"

# 43 county departments (县直单位); the first three are named in 工作简报 第19期.
DEPARTMENTS = [
    "县法院", "县公安局", "县财政局", "县检察院", "县司法局", "县发展和改革委员会", "县教育体育局",
    "县工业和信息化局", "县民政局", "县人力资源和社会保障局", "县自然资源局", "县住房和城乡建设局",
    "县交通运输局", "县水利局", "县农业农村局", "县商务局", "县文化广电和旅游局", "县卫生健康委员会",
    "县退役军人事务局", "县应急管理局", "县审计局", "县市场监督管理局", "县统计局", "县医疗保障局",
    "县林业局", "县城市管理局", "县信访局", "县行政审批服务局", "县政务服务和大数据管理局", "县乡村振兴局",
    "县生态环境分局", "县税务局", "县消防救援大队", "县供销合作社", "县档案馆", "县机关事务管理局",
    "县住房公积金管理中心", "县残疾人联合会", "县总工会", "县科学技术协会", "县烟草专卖局", "县气象局",
    "县融媒体中心",
]

# Township-level units (乡镇街道).
TOWNSHIPS = [
    "鲁阳街道", "琴台街道", "露峰街道", "汇源街道", "张良镇", "下汤镇", "梁洼镇", "张官营镇", "赵村镇",
    "尧山镇", "瓦屋镇", "辛集乡", "马楼乡", "磙子营乡", "让河乡", "团城乡", "熊背乡", "背孜乡", "仓头乡",
    "董周乡", "观音寺乡", "四棵树乡", "库区乡", "张店乡",
]

# The four supervision groups formed by the 法治政府建设领导小组办公室 with 县人大办、县政府办、县纪委监委、县委政法委.
GROUPS = ["第一督导组", "第二督导组", "第三督导组", "第四督导组"]

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
    "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
    "顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
GIVEN = ["建国", "志强", "海燕", "丽娟", "红霞", "国庆", "晓东", "卫东", "玉兰", "文静", "俊杰", "秀英",
         "明辉", "春梅", "永刚", "桂芳", "德胜", "淑珍", "晓燕", "振华", "雪梅", "立新", "金凤", "宏伟"]


def person_name(i: int) -> str:
    return SURNAMES[(i * 7) % len(SURNAMES)] + GIVEN[(i * 5) % len(GIVEN)]


def alias_of(name: str) -> list[str]:
    """The short form clerks type: 县财政局 → 财政局."""
    short = name.removeprefix("县")
    return [short] if short != name else []
