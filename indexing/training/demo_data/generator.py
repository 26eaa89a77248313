"""The demo-data generator. Deterministic for a seed: one ``random.Random`` drives all.

Patents: title/abstract/claims composed from a subject (IPC-consistent), components,
a problem, effects and numbers, in the usual CNIPA phrasing. Demands: each is written
from one patent in plain SME words (the problem and the effect in their "plain" form,
the subject under a colloquial name, synonyms applied), so lexical overlap with the
source patent is deliberately partial. ``qrels.tsv`` grades 3 (source patent), 2 (valid
patents with the same subject, problem and both effects the demand asks for: genuinely
equivalent, at most five), 1 (a few with the same subject and problem, another effect).
Titles are composed from ~25 subjects per area and varied patterns (vocab.compose_title);
a title already used twice is redrawn, so the stock reads like distinct inventions.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from indexing.training.demo_data.text import (PROCESS_WORDS, REL_DEVICE, REL_MATERIAL, STEP_DATA,
                                     STEP_PROCESS, compose_abstract, fill, num)
from indexing.training.demo_data.vocab import compose_title, load_vocab
from patmatch.atomic_io import atomic_path, atomic_write_bytes
from patmatch.errors import InputError

BAD_SHARE = 0.005
MAX_GRADE2 = 5
MAX_GRADE1 = 4
MAX_TITLE_REPEATS = 1  # a title already drawn is redrawn (a few tries), so repeats stay rare
PATENT_HEADERS_ZH = {
    "id": "公开号", "title": "发明名称", "abstract": "摘要", "claims": "权利要求书", "ipc": "IPC分类号",
    "applicant": "申请人", "legal_status": "法律状态", "application_date": "申请日",
    "publication_date": "公开日", "region": "地区", "inventors": "发明人",
    "open_license": "开放许可", "license_fee": "许可费",
}
DEMAND_HEADERS_ZH = {
    "id": "需求编号", "title": "需求名称", "text": "需求描述", "enterprise": "企业名称",
    "industry": "所属行业", "chain": "产业链", "region": "所在地区", "budget": "预算",
    "cooperation_mode": "合作方式", "required_trl": "技术成熟度", "deadline": "截止日期",
    "confidential": "是否保密", "contact_name": "联系人", "contact_phone": "联系电话",
    "contact_email": "邮箱",
}
COOP_PHRASES = {
    "转让": ["可以直接买断技术", "希望专利转让过来", "愿意出钱买专利"],
    "许可": ["先以许可的方式使用", "可以按年付许可费", "希望拿到使用许可"],
    "合作开发": ["愿意跟高校或者研究所一起合作开发", "可以共建实验室一起做", "希望找团队联合攻关"],
    "其他": ["合作方式可以谈", "技术入股也可以考虑", "方式不限"],
}


@dataclass(frozen=True)
class DemoFiles:
    out_dir: Path
    patent_files: tuple[Path, ...]
    demand_files: tuple[Path, ...]
    qrels: Path
    n_patents: int
    n_demands: int
    n_bad_patents: int
    n_bad_demands: int
    n_repeated_demands: int
    n_qrels: int
    seed: int
    transfer_files: tuple[Path, ...] = ()
    n_transfers: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else [str(p) for p in v]
                    if isinstance(v, tuple) else v) for k, v in d.items()}


def _patent(rng: random.Random, v: dict[str, Any], i: int, area: dict[str, Any],
            si: int, atype: str, year: int,
            seen: dict[str, int]) -> tuple[dict[str, Any], int, list[int]]:
    subj = area["subjects"][si]
    term, kind = subj["term"], subj["kind"]
    # the subject's own parts first; area-wide components only fill up a short list
    pool = list(subj.get("parts") or [])
    pool += [c for c in area["components"] if c not in pool][:max(0, 5 - len(pool))]
    comps = rng.sample(pool, 5)
    tries = [compose_title(rng, v, area, subj, comps)]
    while seen.get(tries[-1][0], 0) >= MAX_TITLE_REPEATS and len(tries) < 16:
        tries.append(compose_title(rng, v, area, subj, comps))
    title, core = min(tries, key=lambda tc: seen.get(tc[0], 0))  # the least used on give-up
    seen[title] = seen.get(title, 0) + 1
    pi = rng.choice(subj.get("problems") or range(len(area["problems"])))
    problem = area["problems"][pi]["tech"]
    # the first effect is the one that answers the problem (vocab "solves"), the second any other
    fix = area["solves"][pi]
    ei = [fix, rng.choice([k for k in range(len(area["effects"])) if k != fix])]
    e0, e1 = (area["effects"][k]["tech"] for k in ei)
    metric = num(rng, rng.choice(area["metrics"]))
    is_process = kind == "material" or any(w in term for w in PROCESS_WORDS)
    rels = REL_MATERIAL if kind == "material" else REL_DEVICE
    rel1, rel2 = (fill(rng, t, comps) for t in rng.sample(rels, 2))
    steps = [fill(rng, t, comps) for t in rng.sample(STEP_PROCESS if is_process else STEP_DATA, 4)]
    made = title.endswith("的制备方法")  # then the claims are process claims
    if made:
        core = f"{core}的制备方法"
    is_method = kind == "method" or term.endswith("方法") or made
    abstract = compose_abstract(rng, area, subj, core, title, comps, rel1, rel2, steps,
                                problem, e0, e1, metric, is_method)
    if is_method:
        claims = (f"1. 一种{core}，其特征在于，包括以下步骤：S1，{steps[0]}；S2，{steps[1]}；"
                  f"S3，{steps[2]}。\n2. 根据权利要求1所述的{core}，其特征在于，所述S3之后还包括：{steps[3]}。\n"
                  f"3. 根据权利要求1或2所述的{core}，其特征在于，{metric}。")
    else:
        claims = (f"1. 一种{core}，其特征在于，包括{'、'.join(comps[:3])}，{rel1}。\n"
                  f"2. 根据权利要求1所述的{core}，其特征在于，{rel2}。\n"
                  f"3. 根据权利要求1或2所述的{core}，其特征在于，还包括{comps[4]}，{steps[0]}。")
    status = rng.choices(list(v["legal_status"]), list(v["legal_status"].values()))[0]
    app = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    pub_year = year + rng.choice([0, 1, 1, 2])
    pub = f"{pub_year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    applicant = rng.choice(v["applicants"][atype])
    if rng.random() < 0.12:  # joint applications
        other = rng.choice(v["applicants"][rng.choice(["university", "institute", "soe"])])
        if other != applicant:
            applicant = f"{applicant};{other}"
    open_lic = status in ("有效", "授权") and rng.random() < 0.1
    rec = {
        "id": f"CN{110_000_000 + i * 53 + rng.randrange(53)}{'B' if status in ('有效', '授权') else 'A'}",
        "title": title, "abstract": abstract, "claims": claims, "ipc": list(subj["ipc"]),
        "applicant": applicant, "applicant_type": atype, "legal_status": status,
        "application_date": app, "publication_date": pub, "region": rng.choice(v["regions"]),
        "inventors": [_person(rng, v) for _ in range(rng.randint(1, 5))],
        "open_license": open_lic,
        "license_fee": (f"{rng.choice([1, 2, 3, 5, 8, 10, 20])}万元/年" if open_lic else None),
    }
    return rec, pi, ei


def _person(rng: random.Random, v: dict[str, Any]) -> str:
    return rng.choice(v["surnames"]) + "".join(rng.choice(v["given_chars"])
                                               for _ in range(rng.choice([1, 2, 2])))


def _synonyms(rng: random.Random, v: dict[str, Any], text: str) -> str:
    for tech, plains in v["synonyms"].items():
        if tech in text:
            text = text.replace(tech, rng.choice(plains))
    return text


def _demand(rng: random.Random, v: dict[str, Any], j: int, area: dict[str, Any], si: int,
            pi: int, ei: int, e2: int, year: int) -> dict[str, Any]:
    subj = area["subjects"][si]
    plain = rng.choice(subj["plain"])
    prob = area["problems"][pi]["plain"]
    eff = area["effects"][ei]["plain"]
    product = rng.choice(v["sme_products"][area["chain"]])
    coop = rng.choices(("转让", "许可", "合作开发", "其他"), (3, 2, 4, 1))[0]
    budget = rng.choice(v["budgets"])
    opening = rng.choice([f"我们公司主要做{product}，", f"本企业从事{product}多年，",
                          f"公司是做{product}的中小企业，", ""])
    issue = rng.choice([f"目前遇到的问题是{prob}", f"现在最头疼的是{prob}", f"生产中发现{prob}",
                        f"客户反映{prob}"])
    impact = rng.choice(["，客户投诉比较多", "，影响交货", "，成本一直降不下来", "，订单受影响", ""])
    want = rng.choice([f"。想找{plain}方面的技术或者团队", f"。希望引进{plain}相关的成熟技术",
                       f"。需要有{plain}经验的专家帮忙"])
    target = rng.choice([f"，目标是{eff}", f"，希望做到{eff}", f"，要求{eff}"])
    also = area["effects"][e2]["plain"]
    extra = rng.choice([f"，另外最好{also}", f"，同时希望{also}", f"，如果还能{also}更好"]) + \
        rng.choice(["", f"，指标上至少提升{rng.randint(10, 50)}%", "，最好能先小批量验证",
                    "，有样品可以先试用"])
    money = "。费用面议" if budget == "面议" else \
        rng.choice([f"。预算大概{budget}", f"。投入资金{budget}左右", f"。费用{budget}"])
    text = _synonyms(rng, v, f"{opening}{issue}{impact}{want}{target}{extra}{money}，"
                             f"{rng.choice(COOP_PHRASES[coop])}。")
    title = rng.choice([f"求{plain}相关技术", f"{plain}技术需求", f"{plain}难题征集解决方案",
                        f"寻求{plain}技术合作", f"关于{plain}的技术需求"])
    sn = rng.randrange(len(v["surnames"]))
    w = v["company_words"]
    enterprise = rng.choice(w["head"]) + rng.choice(w["core"]) + rng.choice(w["tail"])
    return {
        "id": f"XQ{year}{j + 1:06d}", "title": title, "text": text, "enterprise": enterprise,
        "industry": area["industry"], "chain": area["chain"] if rng.random() < 0.4 else None,
        "region": rng.choice(v["demand_regions"]), "budget": budget, "cooperation_mode": coop,
        "required_trl": rng.choice([None, None, 4, 5, 6, 7, 8]),
        "deadline": f"{year + 1}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "confidential": rng.random() < 0.05,
        "contact_name": v["surnames"][sn] + rng.choice(["经理", "总", "工", "先生", "女士"])
        if rng.random() < 0.3 else _person_from(rng, v, sn),
        "contact_phone": f"1{rng.choice('3456789')}{rng.randrange(10 ** 9):09d}",
        "contact_email": f"{v['surname_pinyin'][sn]}{rng.randint(1, 999)}@"
                         f"{rng.choice(['cz', 'wj', 'jt', 'ly'])}{rng.randint(10, 9999)}."
                         f"{rng.choice(w['domains'])}",
    }


def _person_from(rng: random.Random, v: dict[str, Any], sn: int) -> str:
    return v["surnames"][sn] + "".join(rng.choice(v["given_chars"]) for _ in range(rng.choice([1, 2])))


def _break_patent(rng: random.Random, rec: dict[str, Any]) -> None:
    kind = rng.randrange(4)
    if kind == 0:
        rec["title"] = None
    elif kind == 1:
        rec["ipc"] = [rng.choice(["H01M-10/05X", "XYZ123", "1234/56", "H0IM10/0525"])]
    elif kind == 2:
        rec["abstract"] = (rec["abstract"] * (10_500 // max(len(rec["abstract"]), 1) + 1))
    else:  # accepted after stripping: shows the HTML counter, not a reject
        rec["abstract"] = f"<p>{rec['abstract']}</p><script>alert('x')</script>"


def _break_demand(rng: random.Random, rec: dict[str, Any]) -> None:
    kind = rng.randrange(4)
    if kind == 0:
        rec["text"] = " "
    elif kind == 1:
        rec["contact_email"] = rec["contact_email"].replace("@", "#")
    elif kind == 2:
        rec["cooperation_mode"] = "入股分红"
    else:
        rec["text"] = f"<div>{rec['text']}</div><br/>联系人身份证号11010519491231002X"


def _cell(value: Any, sep: str = ";") -> Any:
    if isinstance(value, list):
        return sep.join(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


def _write_csv(path: Path, headers: dict[str, str], rows: list[dict[str, Any]], encoding: str,
               ipc_sep: str = ";") -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(list(headers.values()))
    for r in rows:
        w.writerow(["" if r.get(k) is None else _cell(r.get(k), ipc_sep) for k in headers])
    atomic_write_bytes(path, buf.getvalue().encode(encoding))


def _write_xlsx(path: Path, headers: dict[str, str], rows: list[dict[str, Any]]) -> None:
    import polars as pl

    data = {h: [None if r.get(k) is None else str(_cell(r.get(k), ",")) for r in rows]
            for k, h in headers.items()}
    with atomic_path(path) as tmp:  # demo files are ordinary files (umask mode)
        pl.DataFrame(data, schema={h: pl.String for h in headers.values()}).write_excel(
            tmp, autofit=False)


def generate(out_dir: str | Path, n_patents: int = 20000, n_demands: int = 5000,
             seed: int = 0, n_transfers: int = 0, flawed: bool = True) -> DemoFiles:
    """Write patents (CSV UTF-8, XLSX, CSV GBK), demands (XLSX, CSV) and qrels.tsv; with
    ``n_transfers``, transfer histories of those patents too (``demo_data.transfers``).

    ``flawed`` (the default) adds the deliberately bad rows (``BAD_SHARE``) and a few
    demand rows exported twice, so the ingest report shows every counter; without it every
    row is valid and ingests with no reject and no duplicate."""
    if n_patents < 1 or n_demands < 0:
        raise InputError(f"need n_patents >= 1 and n_demands >= 0, got {n_patents}, {n_demands}")
    v = load_vocab()
    rng = random.Random(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    areas = v["areas"]
    patents: list[dict[str, Any]] = []
    meta: list[tuple[int, int, int, bool]] = []  # (area, subject, problem, usable as source)
    seen: dict[str, int] = {}  # title -> times drawn
    invalid = set(v["invalid_status"])
    effects: list[list[int]] = []
    for i in range(n_patents):
        ai = rng.randrange(len(areas))
        si = rng.randrange(len(areas[ai]["subjects"]))
        atype = rng.choices(("university", "institute", "soe"), (55, 30, 15))[0]
        rec, pi, ei = _patent(rng, v, i, areas[ai], si, atype, rng.randint(2014, 2024), seen)
        effects.append(ei)
        bad = rng.random() < BAD_SHARE and flawed
        if bad:
            _break_patent(rng, rec)
        patents.append(rec)
        meta.append((ai, si, pi, not bad and rec["legal_status"] not in invalid))
    by_subject: dict[tuple[int, int], list[int]] = {}
    for idx, (ai, si, _pi, ok) in enumerate(meta):
        if ok:
            by_subject.setdefault((ai, si), []).append(idx)
    sources = [i for i, m in enumerate(meta) if m[3]]
    if n_demands and not sources:
        raise InputError(f"none of the {n_patents} generated patents is valid to write demands "
                         "from; generate more patents (e.g. --patents 100)")
    demands: list[dict[str, Any]] = []
    qrels: list[tuple[str, str, int]] = []
    n_bad_d = 0
    bad_demands: set[int] = set()
    for j in range(n_demands):
        src = rng.choice(sources)
        ai, si, pi, _ = meta[src]
        e_fix, e_two = effects[src]
        d = _demand(rng, v, j, areas[ai], si, pi, e_fix, e_two, 2025)
        if rng.random() < BAD_SHARE and flawed:
            _break_demand(rng, d)
            n_bad_d += 1
            bad_demands.add(j)
        else:
            qrels.append((d["id"], patents[src]["id"], 3))
            same = [k for k in by_subject[(ai, si)] if k != src]
            # grade 2: same subject and problem, and both effects the SME asks for: the
            # genuinely equivalent ones (few, since subjects are many). Grade 1: a few with
            # the same subject and problem but another second effect.
            same_problem = [k for k in same if meta[k][2] == pi]
            cand = [k for k in same_problem if effects[k][1] == e_two]
            two = rng.sample(cand, min(MAX_GRADE2, len(cand)))
            one = [k for k in same_problem if effects[k][1] != e_two]
            qrels += [(d["id"], patents[k]["id"], 2) for k in two]
            qrels += [(d["id"], patents[k]["id"], 1) for k in rng.sample(one, min(MAX_GRADE1, len(one)))]
        demands.append(d)
    # a few rows exported twice (same id): the ingest report shows them as duplicates
    good = [k for k, d in enumerate(demands) if k not in bad_demands]
    n_repeats = min(len(good), max(1, n_demands // 1000)) if flawed else 0
    repeats = [dict(demands[k]) for k in sorted(rng.sample(good, n_repeats))]
    files = _write_all(out, patents, demands + repeats)
    qpath = out / "qrels.tsv"
    atomic_write_bytes(qpath, ("demand_id\tpatent_id\tgrade\n" + "".join(
        f"{a}\t{b}\t{g}\n" for a, b, g in qrels)).encode("utf-8"))
    tfiles: tuple[Path, ...] = ()
    if n_transfers:
        from indexing.training.demo_data.transfers import write_transfers

        tfiles = write_transfers(out, patents, n_transfers, seed=seed).files
    return DemoFiles(out_dir=out, patent_files=files[0], demand_files=files[1], qrels=qpath,
                     n_patents=n_patents, n_demands=n_demands,
                     n_bad_patents=_count_bad(patents), n_bad_demands=n_bad_d, n_repeated_demands=len(repeats),
                     n_qrels=len(qrels), seed=seed, transfer_files=tfiles, n_transfers=n_transfers)


def _count_bad(patents: list[dict[str, Any]]) -> int:
    """Rows the ingester must reject (HTML rows are accepted after stripping)."""
    import re

    ipc_ok = re.compile(r"^[A-H]\d{2}[A-Z]\d{1,4}/\d{2,6}$")
    return sum(1 for p in patents if p["title"] is None or len(p["abstract"]) > 10_000
               or not all(ipc_ok.match(c) for c in p["ipc"]))


def _write_all(out: Path, patents: list[dict[str, Any]],
               demands: list[dict[str, Any]]) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    english = {k: k for k in ("id", "title", "abstract", "claims", "ipc", "applicant",
                              "applicant_type", "legal_status", "application_date",
                              "publication_date", "region", "inventors", "open_license",
                              "license_fee")}
    groups: dict[str, list[dict[str, Any]]] = {"university": [], "institute": [], "soe": []}
    for p in patents:
        groups[p["applicant_type"]].append(p)
    p1, p2, p3 = out / "patents_universities.csv", out / "patents_institutes.xlsx", \
        out / "patents_soe_gbk.csv"
    _write_csv(p1, english, [{**p, "ipc": [c[:4] + " " + c[4:] for c in p["ipc"]]}
                             for p in groups["university"]], "utf-8")
    _write_xlsx(p2, PATENT_HEADERS_ZH, groups["institute"])  # no type column: inferred
    gbk_rows = [{**p, "application_date": _zh_date(p["application_date"]),
                 "publication_date": _zh_date(p["publication_date"])} for p in groups["soe"]]
    _write_csv(p3, PATENT_HEADERS_ZH, gbk_rows, "gbk", ipc_sep=",")
    half = len(demands) // 2
    d1, d2 = out / "demands_form.xlsx", out / "demands_platform.csv"
    _write_xlsx(d1, DEMAND_HEADERS_ZH, demands[:half])
    _write_csv(d2, {k: k for k in DEMAND_HEADERS_ZH}, demands[half:], "utf-8-sig")
    return (p1, p2, p3), (d1, d2)


def _zh_date(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{y}年{int(m)}月{int(d)}日"


# shared with the transfer-history writer (demo_data.transfers)
write_xlsx = _write_xlsx
# shared with the streaming writer (demo_data.stream): one way to compose a record
patent_row = _patent
demand_row = _demand
