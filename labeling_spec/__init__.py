"""labeling_spec: the labeling standard (加工标引规范) and the automatic labeler.

Public API (binding, see docs/architecture.md):
``load_taxonomy``, ``Taxonomy``, ``Chain``, ``Labeler``, ``PatentLabels``, ``DemandLabels``,
``domain_terms``. Imports are lazy so that ``import labeling_spec`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from labeling_spec.chains import Chain, Taxonomy, load_taxonomy
    from labeling_spec.classifier import ClassifierReport
    from labeling_spec.labeler import DemandLabels, Labeler, PatentLabels
    from labeling_spec.vocab import domain_terms

_EXPORTS = {
    "load_taxonomy": "labeling_spec.chains", "Taxonomy": "labeling_spec.chains",
    "Chain": "labeling_spec.chains", "domain_terms": "labeling_spec.vocab",
    "Labeler": "labeling_spec.labeler", "PatentLabels": "labeling_spec.labeler",
    "DemandLabels": "labeling_spec.labeler", "ClassifierReport": "labeling_spec.classifier",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labeling_spec' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
