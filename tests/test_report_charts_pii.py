"""No record text reaches a chart unmasked (issue 13: "a test greps every output path").

Transfer events with personal data planted in every free-text field (parties, both
addresses, source), individuals as co-owners of an institution's patent (they reach the
institution ranking and the flow chart) and as parties of deals, go through the real
ingest; then every report type is rendered through the real paths while spies record:
- matplotlib: every text artist of the figure as ``Figure.savefig`` drew it (titles, tick
  and axis labels, legends, annotations), and the PNG's text chunks/metadata;
- pyecharts: every option JSON ``dump_options`` handed to ECharts (the HTML embeds them);
- the XLSX (native charts) and HTML files as written.
None may hold a planted value or an individual's name in clear; the masked forms do appear
(the charts show the parties, so the spies saw record text)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from patmatch.settings import Settings

from tests.matcher.test_pii_outputs import NEEDLES as BASE_NEEDLES
from tests.matcher.test_pii_outputs import PLANTED

ID15 = "110105491231002"
PEOPLE = ("张三丰", "李四海", "赵六一")  # individuals: co-owners and deal parties
NEEDLES = (*BASE_NEEDLES, ID15, *PEOPLE)


def _pii(prefix: str) -> str:
    p = PLANTED
    return (f"{prefix} 联系人：{p['name']}，手机{p['mobile']}，座机{p['landline']}，邮箱{p['email']}，"
            f"身份证{p['id18']}，老身份证号{ID15}，卡号{p['card']}")


def _events(path: Path) -> Path:
    header = ["专利号", "事件类型", "许可种类", "生效日", "让与人", "让与人地址", "受让人", "受让人地址",
              "合同金额(万元)", "来源"]
    rows = []
    for i, (assignor, assignee) in enumerate([
            (_pii("常州大学"), _pii("常州青禾科技有限公司")),
            (f"常州大学；{PEOPLE[0]}", f"江苏碳谷新材料有限公司；{PEOPLE[1]}"),
            (f"南京大学、{PEOPLE[1]}", _pii("上海申联电子有限公司")),
            (f"中国科学院大连化学物理研究所，{PEOPLE[2]}", "常州智造装备有限公司"),
            (PEOPLE[2], f"{PEOPLE[0]}"),
            (_pii("浙江大学"), f"溧阳新能源科技有限公司；{PEOPLE[2]}")], start=1):
        for year in (2024, 2025):
            rows.append([f"ZL20{year - 2000}1000{i:04d}.{i % 10}", "转让" if i % 2 else "许可",
                         "" if i % 2 else "独占", f"{year}-0{i}-1{i}", assignor,
                         f"江苏省常州市武进区滆湖中路21号 电话{PLANTED['landline']}",
                         assignee, f"江苏省南京市鼓楼区汉口路22号 手机{PLANTED['mobile']}",
                         str(100 * i), f"cnipa {PLANTED['email']}"])
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _unescaped(text: str) -> str:
    """JSON's ``\\uXXXX`` escapes decoded: pyecharts dumps options with ensure_ascii, so a
    name in a chart option is ``\\u5f20...`` in the HTML."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def _leaks(text: str) -> list[str]:
    text = _unescaped(text)
    flat = text.replace("-", "").replace(" ", "")
    return [n for n in NEEDLES if n in text or n in flat]


@pytest.fixture()
def inputs(settings: Settings, tmp_path: Path) -> Any:
    from api.reports.transfers import load_inputs
    from indexing.intake.transfers import ingest_transfers
    from indexing.store.tables_transfers import open_transfers

    rep = ingest_transfers([_events(tmp_path / "t.csv")], open_transfers(settings),
                           rejects_dir=tmp_path / "rejects")
    assert (rep.accepted, rep.rejected) == (12, 0), rep
    return load_inputs(settings)


def test_no_planted_value_reaches_a_chart(inputs: Any, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.text
    from matplotlib.figure import Figure
    from PIL import Image
    from pyecharts.charts.base import Base

    from api.reports import transfer_render
    from api.reports.transfers import REPORT_TYPES, build

    drawn: list[str] = []
    options: list[str] = []
    real_savefig, real_dump = Figure.savefig, Base.dump_options

    def savefig(self: Figure, *a: Any, **kw: Any) -> Any:
        out = real_savefig(self, *a, **kw)  # drawn: tick labels are set now
        drawn.extend(t.get_text() for t in self.findobj(matplotlib.text.Text))
        return out

    def dump_options(self: Any, *a: Any, **kw: Any) -> str:
        out = real_dump(self, *a, **kw)
        options.append(out)
        return out

    monkeypatch.setattr(Figure, "savefig", savefig)
    monkeypatch.setattr(Base, "dump_options", dump_options)
    files: dict[str, str] = {}
    chunks: dict[str, str] = {}
    for kind in REPORT_TYPES:
        doc = build(inputs, kind, "2025", region="江苏省" if kind == "flow" else None)
        assert not doc["empty"], kind
        for fmt in ("png", "html", "xlsx"):
            path = transfer_render.write(doc, fmt, tmp_path / f"{kind}.{fmt}")
            if fmt == "png":
                with Image.open(path) as img:
                    chunks[kind] = repr(img.info) + repr(getattr(img, "text", {}))
                    assert not getattr(img, "text", {}), (kind, img.text)  # no text chunk
            elif fmt == "xlsx":
                with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as z:
                    files[str(path)] = "\n".join(z.read(n).decode("utf-8", "replace")
                                                 for n in z.namelist())
            else:
                files[str(path)] = path.read_text(encoding="utf-8")
    assert len(drawn) > 100 and len(options) >= 6 * len(REPORT_TYPES)
    seen = {"matplotlib texts": "\n".join(drawn),
            "echarts options": _unescaped("\n".join(options)),
            "png chunks": "\n".join(chunks.values()), **files}
    # the spies saw record text: institutions are charted, individuals only masked
    assert "常州大学" in seen["matplotlib texts"] and "常州大学" in seen["echarts options"]
    assert "常州大学；张**" in seen["echarts options"]  # a person co-owning: masked
    leaks = {where: found for where, text in seen.items() if (found := _leaks(text))}
    assert not leaks, f"planted values reached a chart: {leaks}"


def test_report_files_are_owner_only(inputs: Any, settings: Settings, tmp_path: Path) -> None:
    """Reports list parties and deals: every rendering, archived or written with --out,
    is 0600 (issue 13: every file holding records)."""
    import stat

    from typer.testing import CliRunner

    from api.cli import app
    from api.reports import transfer_render
    from api.reports.transfer_archive import archive, open_archived_report
    from api.reports.transfers import build

    doc = build(inputs, "annual", "2025")
    meta = archive(settings, doc)
    for fmt in transfer_render.FORMATS:
        open_archived_report(settings, meta.id, fmt)  # xlsx/png rendered on demand
        transfer_render.write(doc, fmt, tmp_path / "out" / f"r.{fmt}")
    archived = list(settings.home.joinpath("reports").iterdir())
    assert {p.suffix for p in archived} >= {".md", ".html", ".json", ".xlsx", ".png"}
    modes = {str(p): stat.S_IMODE(p.stat().st_mode) for p in archived}
    res = CliRunner().invoke(app, ["report", "--type", "supply-demand", "--from", "2025-01-01",
                                   "--to", "2025-12-31", "--out", str(tmp_path / "sd.xlsx")])
    assert res.exit_code == 0, res.output
    for suffix in ("md", "json"):
        res = CliRunner().invoke(app, ["report", "--type", "supply-demand",
                                       "--out", str(tmp_path / f"sd.{suffix}")])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["report", "--period", "2025", "--out",
                                   str(tmp_path / "cli.png")])
    assert res.exit_code == 0, res.output
    written = [*settings.home.joinpath("reports").iterdir(), *tmp_path.joinpath("out").iterdir(),
               *(tmp_path / f"sd.{s}" for s in ("xlsx", "md", "json")), tmp_path / "cli.png"]
    assert sum(p.name.startswith("report-2025") for p in written) >= 2  # supply-demand archive
    modes |= {str(p): stat.S_IMODE(p.stat().st_mode) for p in written}
    loose = {p: oct(m) for p, m in modes.items() if m != 0o600}
    assert not loose, f"report files readable by others: {loose}"
    assert not [p for p in written if p.name.startswith(".")], "no temp file left"
