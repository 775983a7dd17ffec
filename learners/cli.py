"""`leanfilter train CONFIG`, registered through the entry-point group `leanfilter.commands`."""

from __future__ import annotations

import click


@click.command("train")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
def train_command(config: str) -> None:
    """Train a policy on the verified target as CONFIG (YAML or JSON) describes."""
    from pydantic import ValidationError

    try:
        from learners.config import load_config
        from learners.loop import train
    except ImportError as e:
        raise click.ClickException(
            f"leanfilter train needs the learn extra ({e.name} is missing):"
            " pip install torch==2.13.0 && pip install -e '.[learn]'"
        ) from e

    try:
        settings = load_config(config)
    except ValidationError as e:
        raise click.ClickException(f"{config}: {e}") from e
    for record in train(settings):
        click.echo(
            f"step {record['step']}: loss {record['loss']:.4f} reward {record['reward']:.3f}"
        )
