"""Objectives compared on the same verified target: `leanfilter compare CONFIG`.

config.py (what to compare), problems.py (the train and eval splits), run.py (train every arm x
seed and evaluate, resumable), sampling.py and evaluate.py (n samples per eval problem, verified),
report.py (results.json, the markdown table, the Pareto plot), dry_run.py (`--dry-run`).
"""
