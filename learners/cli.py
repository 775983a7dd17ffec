"""`leanfilter train CONFIG`, registered through the entry-point group `leanfilter.commands`."""

from __future__ import annotations

import click


def _missing_extra(command: str, error: ImportError) -> str:
    return (
        f"leanfilter {command} needs the learn extra ({error.name} is missing):"
        " pip install torch==2.13.0 && pip install -e '.[learn]'"
    )


@click.command("train")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
def train_command(config: str) -> None:
    """Train a policy on the verified target as CONFIG (YAML or JSON) describes."""
    from pydantic import ValidationError

    try:
        from learners.config import load_config
        from learners.loop import train
    except ImportError as e:
        raise click.ClickException(_missing_extra("train", e)) from e

    try:
        settings = load_config(config)
    except ValidationError as e:
        raise click.ClickException(f"{config}: {e}") from e
    for record in train(settings):
        click.echo(
            f"step {record['step']}: loss {record['loss']:.4f} reward {record['reward']:.3f}"
        )


@click.command("compare")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Build every part except the weights, and stop.")
def compare_command(config: str, dry_run: bool) -> None:
    """Train and evaluate several objectives on one verified target, as CONFIG describes.

    Resumes where a previous run with the same output_dir stopped. The comparison table is
    printed last.
    """
    from pydantic import ValidationError

    try:
        from learners.compare.config import CompareConfig
        from learners.compare.run import CompareError
        from learners.config import load_config
    except ImportError as e:
        raise click.ClickException(_missing_extra("compare", e)) from e

    try:
        settings = load_config(config, CompareConfig)
    except ValidationError as e:
        raise click.ClickException(f"{config}: {e}") from e
    try:
        if dry_run:
            from learners.compare.dry_run import dry_run as build

            for line in build(settings):
                click.echo(line)
            click.echo("dry run: every part built, nothing trained")
            return
        from learners.compare.report import markdown_table
        from learners.compare.run import compare

        results = compare(settings, echo=click.echo)
    except (CompareError, ValueError, KeyError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"results in {settings.output_dir}: results.json, results.md, pareto*.png")
    click.echo(markdown_table(results))
