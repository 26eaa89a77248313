"""A small hand-made transfer file with known answers (shared by the transfer tests).

Good rows: 2024 -> 3 events (one a pledge), 2025 -> 4 events. Conversion events (pledges
excluded): 2024: 2, 2025: 4 -> +100 %. Amounts (万元, all events) 2024: 450, 2025: 710.
For 江苏省 (conversions): inflow 2 (rows 5, 6), outflow 2 (rows 3, 8), local 2 (rows 2, 7).
For 常州市: inflow 2, outflow 0, local 2.
Bad rows: unknown type, 2026-13-40, negative amount, an address that resolves nowhere;
and one exact repeat of row 2.
"""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = ["专利号", "事件类型", "许可种类", "生效日", "让与人", "让与人地址", "受让人", "受让人地址",
          "合同金额(万元)", "来源"]
GOOD = [
    ["ZL201810000001.1", "专利权转让", "", "2024-03-10", "常州大学", "213164 江苏省常州市武进区滆湖中路21号",
     "常州青禾科技有限公司", "江苏省常州市新北区太湖东路9号", "100", "cnipa"],
    ["ZL201810000002.2", "许可", "独占", "2024/6/1", "南京大学", "江苏省南京市鼓楼区汉口路22号",
     "上海申联电子有限公司", "上海市浦东新区张江路100号", "50万元", "cnipa"],
    ["ZL201810000003.3", "质押", "", "2024年11月20日", "常州青禾科技有限公司", "常州市新北区太湖东路9号",
     "江苏银行股份有限公司常州分行", "江苏省常州市天宁区延陵西路1号", "300", "cnipa"],
    ["ZL201910000004.4", "转让", "", "20250215", "中国科学院大连化学物理研究所", "辽宁省大连市沙河口区中山路457号",
     "江苏碳谷新材料有限公司", "江苏省常州市武进区常武中路18号", "200", "cnipa"],
    ["ZL201910000005.5", "开放许可", "", "2025-05-05", "浙江大学", "浙江省杭州市西湖区余杭塘路866号",
     "常州智造装备有限公司", "江苏省常州市金坛区金城镇", "10", "cnipa"],
    ["ZL202010000006.6", "作价入股", "", "2025-08-08", "常州大学", "江苏省常州市武进区滆湖中路21号",
     "溧阳新能源科技有限公司", "江苏省常州市溧阳市昆仑街道", "500", "platform"],
    ["ZL202010000007.7", "转让", "", "2025-12-31", "张三", "江苏省苏州市工业园区星湖街328号",
     "李四", "上海市徐汇区漕溪北路1号", "", "cnipa"],
]
BAD = [
    ["ZL202010000008.8", "赠与", "", "2025-01-01", "常州大学", "江苏省常州市武进区", "甲公司有限公司",
     "江苏省常州市新北区", "1", "cnipa"],
    ["ZL202010000009.9", "转让", "", "2026-13-40", "常州大学", "江苏省常州市武进区", "乙公司有限公司",
     "江苏省常州市新北区", "1", "cnipa"],
    ["ZL202010000010.0", "转让", "", "2025-03-01", "常州大学", "江苏省常州市武进区", "丙公司有限公司",
     "江苏省常州市新北区", "-5", "cnipa"],
    ["ZL202010000011.1", "转让", "", "2025-03-02", "常州大学", "江苏省常州市武进区", "丁公司有限公司",
     "火星基地1号", "1", "cnipa"],
]


def write_sample(path: Path, encoding: str = "gbk") -> Path:
    """GBK CSV, as an office export would be."""
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(GOOD)
        w.writerows(BAD)
        w.writerow(GOOD[0])
    return path
