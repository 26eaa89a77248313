"""One gate factory (matcher.evaluate.quality_gate) for the CLI, nightly and the API.

The bug it fixes: a publish over HTTP ignored ``BuildConfig.judged_path`` and so skipped
the gate the CLI ran with the same configuration.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import indexing.build.publish as publish_module
import matcher.evaluate as evaluate_module
from indexing.build.build_config import BuildConfig
from matcher.evaluate import quality_gate
from patmatch.errors import InputError

from api.live import LiveEngine


@pytest.fixture()
def captured(monkeypatch) -> dict:
    seen: dict = {}

    def fake_publish(settings, build_id, *, force, evaluator):
        seen["evaluator"] = evaluator
        return build_id

    def fake_evaluate(bundle_path, qrels_path):
        seen["evaluated"] = (Path(bundle_path), Path(qrels_path))
        return {"ndcg@10": 0.5}

    monkeypatch.setattr(publish_module, "publish", fake_publish)
    monkeypatch.setattr(evaluate_module, "evaluate_bundle", fake_evaluate)
    return seen


def test_http_publish_gates_with_the_build_configs_judged_set(settings, tmp_path, captured):
    qrels = tmp_path / "elsewhere" / "qrels.tsv"
    qrels.parent.mkdir()
    qrels.write_text("demand_id\tpatent_id\tgrade\nD-1\tP-1\t2\n", encoding="utf-8")
    assert not (settings.home / "judged" / "qrels.tsv").exists()
    engine = LiveEngine(settings, build_config=BuildConfig(judged_path=str(qrels)))
    assert engine.publish("b-1", force=False) == "b-1"
    gate = captured["evaluator"]
    assert gate is not None, "the API published without the gate the CLI runs"
    staged = settings.staging_dir / "b-1"
    assert gate(staged) == {"ndcg@10": 0.5}
    assert captured["evaluated"] == (staged, qrels)


def test_without_a_judged_set_the_gate_is_skipped_with_a_warning(settings, captured, caplog):
    LiveEngine(settings).publish("b-1", force=False)
    assert captured["evaluator"] is None
    assert "quality gate skipped" in caplog.text


def test_one_factory_resolves_the_judged_set_for_everyone(settings, tmp_path):
    default = settings.home / "judged" / "qrels.tsv"
    default.parent.mkdir(parents=True)
    default.write_text("demand_id\tpatent_id\tgrade\n", encoding="utf-8")
    warnings: list[str] = []
    assert quality_gate(settings, warn=warnings.append) is not None  # the default set
    assert quality_gate(settings, config=BuildConfig(judged_path=str(tmp_path / "none.tsv")),
                        warn=warnings.append) is None
    assert warnings and "none.tsv" in warnings[0]
    with pytest.raises(InputError, match="does not exist"):  # an explicit --judged must exist
        quality_gate(settings, tmp_path / "missing.tsv", warn=warnings.append)
