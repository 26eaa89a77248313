"""Check that the zero-overlap set deserves its name: for each (demand, patent) pair, the
words they share (jieba search-mode words of >= 2 characters, stopwords removed, against
the patent's title + abstract + first claim) and the share of the demand's character
bigrams found in the patent.

    python -m benchmarks.zero_overlap_check [--max-shared 2]

Exits non-zero when a pair shares more than ``--max-shared`` words, or when a patent id is
not a held-out patent (the default encoder must never have trained on it).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def overlap(tok: Any, demand: str, patent_text: str) -> tuple[list[str], float]:
    dw = {w for w in tok.tokenize(demand) if len(w) >= 2}
    pw = {w for w in tok.tokenize(patent_text) if len(w) >= 2}
    d = "".join(c for c in demand if "\u4e00" <= c <= "\u9fff")
    grams = {d[i:i + 2] for i in range(len(d) - 1)}
    share = sum(g in patent_text for g in grams) / max(len(grams), 1)
    return sorted(dw & pw), share


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-shared", type=int, default=2)
    a = ap.parse_args()
    from benchmarks.tasks import kppatent_records, zero_overlap_pairs
    from indexing.text.tokenizer import ChineseTokenizer
    from indexing.training.corpus import is_heldout
    from patmatch.settings import shared_data_dir

    docs = {r.id: r for r in kppatent_records(shared_data_dir())}
    tok = ChineseTokenizer()
    bad, shares, counts = 0, [], []
    for qid, pid, text in zero_overlap_pairs():
        r = docs.get(pid)
        if r is None or not is_heldout(pid):
            print(f"{qid}: {pid} is not a held-out KPPatent patent")
            bad += 1
            continue
        words, share = overlap(tok, text, f"{r.title} {r.abstract} {(r.first_claim or '')[:400]}")
        shares.append(share)
        counts.append(len(words))
        flag = "  <-- too many" if len(words) > a.max_shared else ""
        bad += bool(flag)
        print(f"{qid} {pid} shared={'、'.join(words) or '-'} bigrams={share:.2f}{flag}")
    n = len(counts)
    print(f"{n} pairs; shared words mean {sum(counts) / max(n, 1):.2f}, max {max(counts, default=0)}; "
          f"demand bigrams found in the patent: mean {sum(shares) / max(n, 1):.2f}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
