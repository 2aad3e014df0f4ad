"""Regenerate the zoo: ``python -m models_zoo.regenerate [--quick | --rescore] [--only NAME] [--out DIR]``.

Each model is rebuilt from its recipe (models_zoo/<name>/recipe.py) into DIR/<name>/
(default: models_zoo/ itself). ``--quick`` makes tiny data sets and trains one epoch: a smoke
test of the whole path, not usable models (their cards say ``quick_build: true``).
``--rescore`` trains nothing: it recomputes the cards of the models already in DIR from their
committed files and the recipe's held-out split (after a change of how a figure is scored).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

MODEL_NAMES = ("ad", "gesture", "kws", "ic", "vww")
ZOO_DIR = Path(__file__).resolve().parent


def load_recipe(name: str):
    """The Recipe object of one zoo model."""
    if name not in MODEL_NAMES:
        raise SystemExit(f"model '{name}' is not in the zoo (known: {', '.join(MODEL_NAMES)})")
    return importlib.import_module(f"models_zoo.{name}.recipe").RECIPE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models_zoo.regenerate", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="tiny data and one epoch (smoke test)")
    mode.add_argument("--rescore", action="store_true",
                      help="recompute the cards of the committed models, without training")
    parser.add_argument("--only", action="append", metavar="NAME", choices=MODEL_NAMES,
                        help="regenerate only this model (repeatable)")
    parser.add_argument("--out", type=Path, default=ZOO_DIR, help="output folder (default: models_zoo/)")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from models_zoo._common.pipeline import QualityError, build, rescore

    failures = []
    for name in args.only or MODEL_NAMES:
        started = time.monotonic()
        try:
            recipe = load_recipe(name)
            card = (rescore(recipe, args.out / name) if args.rescore
                    else build(recipe, args.out / name, quick=args.quick))
        except QualityError as error:
            failures.append(str(error))
            print(f"[{name}] FAILED: {error}", flush=True)
            continue
        vectors = card["results"]["vectors"]
        print(f"[{name}] {card['metric']} float {vectors['float']:.4f} int8 {vectors['int8']:.4f} "
              f"on {vectors['count']} vectors; ops {card['ops']['int8']}; "
              f"{time.monotonic() - started:.0f} s", flush=True)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
