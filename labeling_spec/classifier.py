"""Weakly supervised chain classifier for records without IPC (every demand, some patents).

TF-IDF over the injected tokenizer (default: Chinese character bigrams) + one calibrated
linear model per chain (one-vs-rest), trained on texts labelled by the IPC rules. Predicts
calibrated probabilities; the labeler keeps the top 3 and abstains below a threshold.
Saved as a bundle directory: ``model.joblib`` (vectoriser without its tokenizer, models)
and ``meta.json`` (chains, threshold, report, tokenizer name); the tokenizer is injected
again on load, because a tokenizer object is not a stable thing to pickle.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from patmatch.atomic_io import PRIVATE, atomic_path, atomic_write_json
from patmatch.errors import DependencyError, InputError

Tokenize = Callable[[str], list[str]]
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+|[A-Za-z][A-Za-z0-9\-]+|\d+(?:\.\d+)?")


def bigram_tokenize(text: str) -> list[str]:
    """Default tokenizer: CJK character bigrams (and single chars of 1-char runs), ASCII words."""
    out: list[str] = []
    for run in _CJK_RUN.findall(text or ""):
        if run[0] >= "\u4e00":
            out += [run[i:i + 2] for i in range(len(run) - 1)] if len(run) > 1 else [run]
        else:
            out.append(run.lower())
    return out


class _Analyzer:
    """Picklable-by-name wrapper so the vectoriser can be saved without the tokenizer."""

    def __init__(self, tokenize: Tokenize) -> None:
        self.tokenize = tokenize

    def __call__(self, text: str) -> list[str]:
        return self.tokenize(text)


@dataclass(frozen=True)
class ChainMetrics:
    precision: float
    recall: float
    support: int
    predicted: int


@dataclass(frozen=True)
class ClassifierReport:
    """Quality on held-out IPC-labelled records (weak labels from the IPC rules)."""

    n_train: int
    n_test: int
    threshold: float
    per_chain: dict[str, ChainMetrics] = field(default_factory=dict)
    micro_precision: float = 0.0
    micro_recall: float = 0.0
    top3_recall: float = 0.0
    skipped_chains: tuple[str, ...] = ()
    data: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassifierReport:
        d = dict(d)
        d["per_chain"] = {k: ChainMetrics(**v) for k, v in (d.get("per_chain") or {}).items()}
        d["skipped_chains"] = tuple(d.get("skipped_chains") or ())
        return cls(**d)


class ChainClassifier:
    """Multi-label chain classifier; ``predict_proba(texts)`` -> list of {chain: p}."""

    def __init__(self, chains: Sequence[str], *, tokenize: Tokenize | None = None,
                 tokenizer_name: str | None = None, threshold: float = 0.35,
                 min_positives: int = 5, max_features: int = 200_000, seed: int = 0) -> None:
        self.chains = tuple(chains)
        self.tokenize = tokenize or bigram_tokenize
        self.tokenizer_name = tokenizer_name or ("bigram" if tokenize is None else _fingerprint(tokenize))
        self.threshold = threshold
        self.min_positives = min_positives
        self.max_features = max_features
        self.seed = seed
        self.vectorizer: Any = None
        self.models: dict[str, Any] = {}
        self.report: ClassifierReport | None = None

    @property
    def fitted(self) -> bool:
        return self.vectorizer is not None and bool(self.models)

    def fit(self, texts: Sequence[str], labels: Sequence[Sequence[str]]) -> tuple[str, ...]:
        """Train; returns the chains skipped for lack of positives (< min_positives)."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        if len(texts) != len(labels):
            raise InputError(f"expected one label set per text, got {len(texts)} texts and {len(labels)} label sets")
        self.vectorizer = TfidfVectorizer(analyzer=_Analyzer(self.tokenize), sublinear_tf=True,
                                          min_df=2 if len(texts) >= 200 else 1,
                                          max_features=self.max_features, dtype=_float32())
        x = self.vectorizer.fit_transform(list(texts))
        skipped: list[str] = []
        self.models = {}
        for chain in self.chains:
            y = [chain in set(ls) for ls in labels]
            pos = sum(y)
            if pos < self.min_positives or pos > len(y) - self.min_positives:
                skipped.append(chain)
                continue
            cv = 3 if min(pos, len(y) - pos) >= 3 else 2
            base = LinearSVC(C=0.5, class_weight="balanced", random_state=self.seed)
            model = CalibratedClassifierCV(base, method="sigmoid", cv=cv)
            model.fit(x, y)
            self.models[chain] = model
        if not self.models:
            raise InputError(
                f"expected at least {self.min_positives} positive records for some chain to train the "
                f"classifier, got too few labelled records ({len(texts)} texts)",
                details={"chains_skipped": skipped},
            )
        return tuple(skipped)

    def predict_proba(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not self.fitted:
            raise DependencyError("the chain classifier is not trained; run fit_classifier or load a bundle")
        x = self.vectorizer.transform(list(texts))
        out: list[dict[str, float]] = [{} for _ in texts]
        for chain, model in self.models.items():
            probs = model.predict_proba(x)[:, 1]
            for i, p in enumerate(probs):
                out[i][chain] = round(float(p), 4)
        return out

    # --- persistence ------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        import joblib

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        analyzer = self.vectorizer.analyzer
        self.vectorizer.analyzer = "char"  # the tokenizer is injected again on load
        try:
            with atomic_path(d / "model.joblib", mode=PRIVATE) as tmp:
                joblib.dump({"vectorizer": self.vectorizer, "models": self.models}, tmp,
                            compress=3)
        finally:
            self.vectorizer.analyzer = analyzer
        meta = {"chains": list(self.chains), "threshold": self.threshold, "tokenizer": self.tokenizer_name,
                "report": self.report.to_dict() if self.report else None, "format": 1}
        atomic_write_json(d / "meta.json", meta, mode=PRIVATE, indent=1)
        return d

    @classmethod
    def load(cls, directory: str | Path, *, tokenize: Tokenize | None = None) -> ChainClassifier:
        import joblib

        d = Path(directory)
        if not (d / "model.joblib").is_file() or not (d / "meta.json").is_file():
            raise DependencyError(f"expected a classifier bundle (model.joblib + meta.json) in {d}",
                                  details={"path": str(d)})
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        if meta.get("tokenizer") != "bigram" and tokenize is None:
            raise DependencyError(
                f"the classifier in {d} was trained with the tokenizer {meta.get('tokenizer')!r}; "
                "pass the same tokenize callable to load it")
        if meta.get("tokenizer") == "bigram":
            tokenize = None  # the vocabulary is bigrams whatever the caller's tokenizer is
        elif tokenize is not None and _fingerprint(tokenize) not in ("custom", meta.get("tokenizer")):
            raise DependencyError(
                f"the classifier in {d} was trained with tokenizer {meta.get('tokenizer')!r}, "
                f"the caller's is {_fingerprint(tokenize)!r}; retrain it (`patmatch label-train`)",
                details={"path": str(d)})
        obj = cls(meta["chains"], tokenize=tokenize, tokenizer_name=meta.get("tokenizer"),
                  threshold=float(meta.get("threshold", 0.35)))
        blob = joblib.load(d / "model.joblib")
        obj.vectorizer, obj.models = blob["vectorizer"], blob["models"]
        obj.vectorizer.analyzer = _Analyzer(obj.tokenize)
        obj.report = ClassifierReport.from_dict(meta["report"]) if meta.get("report") else None
        return obj


def _fingerprint(tokenize: Tokenize) -> str:
    """The tokenizer's fingerprint when it is a bound method of a tokenizer that has one
    (indexing.text.tokenizer.ChineseTokenizer), else "custom"."""
    owner = getattr(tokenize, "__self__", None)
    fp = getattr(owner, "fingerprint", None)
    return f"tokenizer:{fp}" if isinstance(fp, str) and fp else "custom"


def _float32() -> Any:
    import numpy as np

    return np.float32


def evaluate(clf: ChainClassifier, texts: Sequence[str], gold: Sequence[Sequence[str]],
             *, n_train: int, skipped: tuple[str, ...] = (), data: str = "") -> ClassifierReport:
    """Per-chain precision/recall of thresholded predictions, plus top-3 recall."""
    probs = clf.predict_proba(texts)
    tp: dict[str, int] = {}
    pred_n: dict[str, int] = {}
    sup: dict[str, int] = {}
    top3_hit = top3_tot = 0
    for p, g in zip(probs, gold, strict=True):
        gs = set(g)
        predicted = {c for c, v in p.items() if v >= clf.threshold}
        top3 = {c for c, _ in sorted(p.items(), key=lambda kv: -kv[1])[:3]}
        for c in clf.models:
            sup[c] = sup.get(c, 0) + (c in gs)
            pred_n[c] = pred_n.get(c, 0) + (c in predicted)
            tp[c] = tp.get(c, 0) + (c in gs and c in predicted)
        known = gs & set(clf.models)
        top3_hit += len(known & top3)
        top3_tot += len(known)
    per = {c: ChainMetrics(round(tp[c] / pred_n[c], 4) if pred_n[c] else 0.0,
                           round(tp[c] / sup[c], 4) if sup[c] else 0.0, sup[c], pred_n[c])
           for c in clf.models}
    all_tp, all_pred, all_sup = sum(tp.values()), sum(pred_n.values()), sum(sup.values())
    return ClassifierReport(
        n_train=n_train, n_test=len(texts), threshold=clf.threshold, per_chain=per,
        micro_precision=round(all_tp / all_pred, 4) if all_pred else 0.0,
        micro_recall=round(all_tp / all_sup, 4) if all_sup else 0.0,
        top3_recall=round(top3_hit / top3_tot, 4) if top3_tot else 0.0,
        skipped_chains=skipped, data=data,
    )
