"""Demo data: deterministic, realistic shape, consistent IPC, qrels, and it ingests cleanly."""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexing.training.demo_data import generate, load_vocab
from indexing.intake.ingest import ingest_files
from indexing.intake.readers import read_table
from indexing.store.record_store import open_store
from patmatch.settings import Settings

CHAINS = {"nev", "battery_storage", "pv", "carbon_materials", "smart_equipment", "smart_grid",
          "industrial_internet", "ai", "biomedicine", "new_materials", "rail_transit", "smart_sensing"}
# IPC classes an area's subjects must stay within (a subject in the wrong chain shows here)
AREA_IPC = {
    "battery_storage": "C08F C22B G01R H01M H02J H02M",
    "nev": "B60 B62D F04D F16H G01S H01B H01F H01L H01M H01Q H01R H02J H02K H02M H02P",
    "pv": "B08B B09B B28D C03C C09J C30B F24S G05F G06Q G06T H01B H01L H02J H02M H02S H10K",
    "carbon_materials": "B01F B01J B29 C01B C04B C08 C09 C23C D01F D06M D21H F16D F16J F17C G01N "
                        "H01B H01M H05K",
    "smart_equipment": "B21D B23 B24B B25 B60L B65G F16H G05B G05D G06T H02K",
    "smart_grid": "B25J B64U G01 G06Q H01F H01H H02",
    "industrial_internet": "G05B G06 G08C H03M H04L H04W", "ai": "G01N G06 G10L",
    "biomedicine": "A61 B01D B25J C07K C12 C22C G06T G16H",
    "new_materials": "B22F B33Y C04B C08 C09 C22 C23C C25D F16B F16L H05K",
    "rail_transit": "B60L B60M B61 E01B E05F E21D F16F F24F G01 G06T G08B G10K H02J H02M",
    "smart_sensing": "A01G B81B G01 G06F G08B G08C H03H H04L H04W",
}
AREA_IPC = {k: tuple(v.split()) for k, v in AREA_IPC.items()}
INVALID = {"权利终止", "驳回", "视为撤回"}


def _digest(files) -> str:  # noqa: ANN001
    h = hashlib.sha256()
    for p in (*files.patent_files, *files.demand_files, files.qrels):
        if p.suffix != ".xlsx":  # xlsx zips carry a timestamp; their content is compared below
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return generate(tmp_path_factory.mktemp("demo"), n_patents=1500, n_demands=400, seed=7)


def test_vocab_covers_chains_and_ipc_is_consistent() -> None:
    v = load_vocab()
    assert {a["chain"] for a in v["areas"]} == CHAINS
    for a in v["areas"]:
        assert len(a["subjects"]) >= 20, a["chain"]  # dozens of distinct inventions per chain
        assert len({s["term"] for s in a["subjects"]}) == len(a["subjects"]), a["chain"]
        assert len(a["solves"]) == len(a["problems"]) and max(a["solves"]) < len(a["effects"])
        for s in a["subjects"]:
            assert s["ipc"] and s["plain"] and len(s["parts"]) >= 5, s["term"]
            assert max(s["problems"]) < len(a["problems"]), s["term"]
            for code in s["ipc"]:
                assert code.startswith(AREA_IPC[a["chain"]]), (a["chain"], code)
                assert re.fullmatch(r"[A-H]\d{2}[A-Z]\d{1,4}/\d{2,6}", code), code


def test_deterministic_per_seed(tmp_path: Path, demo) -> None:  # noqa: ANN001
    again = generate(tmp_path / "a", n_patents=1500, n_demands=400, seed=7)
    assert _digest(again) == _digest(demo)
    for a, b in zip(again.demand_files + again.patent_files, demo.demand_files + demo.patent_files):
        assert read_table(a, "demands" if "demand" in a.name else "patents").rows == \
            read_table(b, "demands" if "demand" in b.name else "patents").rows
    other = generate(tmp_path / "b", n_patents=1500, n_demands=400, seed=8)
    assert _digest(other) != _digest(demo)


def test_files_formats_and_headers(demo) -> None:  # noqa: ANN001
    names = {p.name for p in demo.patent_files + demo.demand_files}
    assert {"patents_universities.csv", "patents_institutes.xlsx", "patents_soe_gbk.csv"} <= names
    gbk = demo.out_dir / "patents_soe_gbk.csv"
    with pytest.raises(UnicodeDecodeError):
        gbk.read_bytes().decode("utf-8")
    assert gbk.read_bytes().decode("gbk").startswith("公开号,发明名称")
    assert read_table(demo.out_dir / "demands_form.xlsx", "demands").columns["需求描述"] == "text"


def test_patent_text_style_and_variety(demo) -> None:  # noqa: ANN001
    rows = [r for p in demo.patent_files for _, r, _ in read_table(p, "patents").rows]
    assert len(rows) == 1500
    abstracts = [r["abstract"] for r in rows if r.get("abstract")]
    assert len(set(abstracts)) == len(abstracts)  # no two abstracts alike
    assert sum(a.startswith(("本发明", "本申请")) for a in abstracts) > 0.95 * len(abstracts)
    assert sum("解决了" in a for a in abstracts) > 0.95 * len(abstracts)
    claims = [r["claims"] for r in rows if r.get("claims")]
    assert all(c.startswith("1. 一种") and "其特征在于" in c for c in claims)
    titles = [r["title"] for r in rows if r.get("title")]
    assert not [t for t in titles if t.startswith("一种一种")]
    # near-duplicate guard: character 4-gram Jaccard between random pairs stays low
    grams = [set(a[i:i + 4] for i in range(len(a) - 3)) for a in abstracts[:300]]
    sims = [len(grams[i] & grams[j]) / len(grams[i] | grams[j]) for i in range(0, 300, 7)
            for j in range(i + 1, 300, 13)]
    assert max(sims) < 0.9 and sum(sims) / len(sims) < 0.3


def test_applicants_types_and_open_licences(demo) -> None:  # noqa: ANN001
    from indexing.intake.normalize import infer_applicant_type

    v = load_vocab()
    for kind, names in v["applicants"].items():
        assert all(infer_applicant_type(n) == kind for n in names), kind
    rows = [r for _, r, _ in read_table(demo.out_dir / "patents_universities.csv", "patents").rows]
    assert sum(r["open_license"] == "是" for r in rows) > 0
    assert all(r["license_fee"] for r in rows if r["open_license"] == "是")


def test_qrels_reference_generated_records(demo) -> None:  # noqa: ANN001
    patents = {r["id"] for p in demo.patent_files for _, r, _ in read_table(p, "patents").rows}
    demands = {r["id"] for p in demo.demand_files for _, r, _ in read_table(p, "demands").rows}
    with demo.qrels.open(encoding="utf-8") as fh:
        q = list(csv.DictReader(fh, delimiter="\t"))
    assert set(q[0]) == {"demand_id", "patent_id", "grade"}
    assert {x["patent_id"] for x in q} <= patents and {x["demand_id"] for x in q} <= demands
    threes = Counter(x["demand_id"] for x in q if x["grade"] == "3")
    assert set(threes.values()) == {1} and len(threes) == 400 - demo.n_bad_demands
    assert {x["grade"] for x in q} == {"1", "2", "3"}


def test_demands_paraphrase_their_source_patent(demo) -> None:  # noqa: ANN001
    v = load_vocab()
    terms = [s["term"] for a in v["areas"] for s in a["subjects"]]
    texts = [r["text"] for p in demo.demand_files for _, r, _ in read_table(p, "demands").rows
             if r.get("text")]
    assert sum(any(t in x for t in terms) for x in texts) < 0.02 * len(texts)
    assert all(re.search(r"预算|资金|费用", x) for x in texts if x.strip() and "<" not in x)


def test_demo_files_ingest_with_the_expected_rejects(demo, settings: Settings, tmp_path: Path) -> None:  # noqa: ANN001
    s = open_store(settings)
    rp = ingest_files("patents", list(demo.patent_files), s, rejects_dir=tmp_path)
    rd = ingest_files("demands", list(demo.demand_files), s, rejects_dir=tmp_path)
    assert rp.balanced and rd.balanced
    assert rp.rejected == demo.n_bad_patents and rp.accepted == 1500 - demo.n_bad_patents
    assert rd.repeated_ids == demo.n_repeated_demands and rd.rejected <= demo.n_bad_demands
    assert rd.read == 400 + demo.n_repeated_demands
    chains = Counter(l for p in s.iter_patents() for l in p.ipc)
    assert len(chains) > 40
    types = Counter(p.applicant_type for p in s.iter_patents())
    assert set(types) == {"university", "institute", "soe"}  # institutes file has no type column
    d = next(iter(s.iter_demands()))
    assert re.fullmatch(r"1[3-9]\d{9}", d.contact_phone) and "@" in d.contact_email
    s.close()


def test_cli_demo_data(tmp_path: Path) -> None:
    from api.cli import app

    res = CliRunner().invoke(app, ["demo-data", "--patents", "120", "--demands", "30", "--seed", "1",
                                   "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "d" / "qrels.tsv").exists() and "120 patents" in res.output


def test_titles_are_distinct_and_well_formed(demo) -> None:  # noqa: ANN001
    rows = [r for p in demo.patent_files for _, r, _ in read_table(p, "patents").rows]
    titles = [r["title"] for r in rows if r.get("title")]
    counts = Counter(titles)
    assert len(counts) >= 0.8 * len(titles)
    assert max(counts.values()) <= 3, counts.most_common(3)
    assert not [t for t in titles if re.search(r"(.{2,})\1", t)]  # no 结构结构
    assert sum(not t.startswith("一种") for t in titles) > 0.05 * len(titles)  # both CN styles
    patterns = ("及其制备方法", "一种基于", "及系统", "一种用于", "存储介质")
    assert all(any(p in t for t in titles) for p in patterns)
    lengths = [len(r["abstract"]) for r in rows if r.get("abstract") and len(r["abstract"]) < 10_000]
    assert max(lengths) - min(lengths) > 80  # varied length, not one template


def test_titles_stay_distinct_at_scale(tmp_path: Path) -> None:
    files = generate(tmp_path, n_patents=6000, n_demands=0, seed=3)
    rows = [r for p in files.patent_files for _, r, _ in read_table(p, "patents").rows]
    counts = Counter(r["title"] for r in rows if r.get("title"))
    assert len(counts) >= 0.8 * sum(counts.values()) and max(counts.values()) <= 3


def test_legal_status_mix_is_a_transfer_stock(demo) -> None:  # noqa: ANN001
    rows = [r for p in demo.patent_files for _, r, _ in read_table(p, "patents").rows]
    share = sum(r["legal_status"] in INVALID for r in rows) / len(rows)
    assert 0.07 <= share <= 0.17, share
    assert {r["legal_status"] for r in rows} >= INVALID | {"有效", "授权", "实质审查"}


def test_qrels_grade2_only_for_equivalent_patents(demo) -> None:  # noqa: ANN001
    with demo.qrels.open(encoding="utf-8") as fh:
        q = list(csv.DictReader(fh, delimiter="\t"))
    for grade, cap in (("2", 5), ("1", 4)):
        per = Counter(x["demand_id"] for x in q if x["grade"] == grade)
        assert per and max(per.values()) <= cap, grade
