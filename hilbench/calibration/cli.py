"""``hilbench calibrate``: fit and check the twins' CPI against published hardware results.

It prints the cross-validated predictions (board, model, software, predicted ms, published
ms, error), the CPI each catalog board gets, the power profiles against the published energy,
and ends with the line ``median absolute error: X% over N pairs`` (catalog boards only).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from hilbench.calibration import cpi_fit, power
from hilbench.calibration.published import (BENCHMARK_MODELS, PROVENANCE, PUBLISHED_CSV,
                                            RUNTIME_COUNTS_CSV, TFLM_COUNTS_CSV, load_published,
                                            load_tflm_counts)

PAIR_COLUMNS = {"board": "board", "catalog_board": "catalog", "core": "core",
                "clock_mhz": "MHz", "benchmark": "model", "family": "software",
                "rounds": "rounds", "predicted_ms": "predicted ms",
                "published_ms": "published ms", "error_pct": "error %"}


def format_frame(frame: pd.DataFrame, columns: dict[str, str], digits: int = 3) -> str:
    """A plain-text table of ``columns`` (column -> header), numbers to ``digits`` significant
    digits, missing values as '-'."""
    shown = frame[list(columns)].rename(columns=columns)
    return shown.to_string(index=False, na_rep="-",
                           float_format=lambda value: f"{value:.{digits}g}")


def pairs_table(validated: pd.DataFrame) -> str:
    """The cross-validated pairs as printed: errors with a sign, to one decimal."""
    shown = validated.assign(catalog_board=validated["catalog_board"].replace("", "-"),
                             error_pct=validated["error_pct"].map(lambda e: f"{e:+.1f}"))
    return format_frame(shown, PAIR_COLUMNS, digits=4)


def calibrate(published_csv: Path = PUBLISHED_CSV,
              counts_csv: Path = TFLM_COUNTS_CSV) -> pd.DataFrame:
    """The leave-one-model-out predictions of every CMSIS-NN pair (see cpi_fit)."""
    pairs = cpi_fit.calibration_pairs(load_published(published_csv), load_tflm_counts(counts_csv))
    return cpi_fit.leave_one_model_out(pairs)


def catalog_differences(fitted: dict[str, cpi_fit.BoardCpi],
                        power_refits: dict[str, power.PowerRefit], catalog) -> list[str]:
    """Where the catalog's shipped CPI or active current is not the fit's (to its rounding)."""
    notes = []
    for name, refit in power_refits.items():
        profile = catalog.get(name).power_profile
        if abs(profile.active_ma - refit.active_ma) > 0.05:
            notes.append(f"{name}: the catalog's power profile says active_ma "
                         f"{profile.active_ma:g}, the published energy gives "
                         f"{refit.active_ma:.1f} ({refit.setups}): update "
                         "hilbench/boards/catalog.yaml")
    for board in catalog.boards.values():
        fit = fitted.get(board.name)
        shipped = board.cpi_calibration
        if fit is None and shipped is not None and "MLPerf Tiny" in shipped.source:
            notes.append(f"{board.name}: the catalog ships cpi {board.cpi:g} from published "
                         "results, but the fit finds no usable rows for it")
        elif fit is not None and (abs(board.cpi - fit.cpi) > 5e-4 or shipped is None or
                                  abs((shipped.error_band_pct or 0) - fit.error_band_pct) > 0.05):
            notes.append(f"{board.name}: the catalog ships cpi {board.cpi:g}, the fit gives "
                         f"{fit.cpi:.3f} (error band {fit.error_band_pct:.1f}%): update "
                         "hilbench/boards/catalog.yaml")
    return notes


def measure_runtime(catalog, output: Path) -> None:
    """``--measure-runtime``: count hilbench's instructions on every twin, write ``output``."""
    import sys

    from hilbench import mlperf_tiny
    from hilbench.calibration.runtime_counts import measure_runtime_counts

    # The MLPerf Tiny reference models: a missing or wrong file is refused by name, saying how
    # to get it.
    models = {benchmark: mlperf_tiny.model_path(name) for benchmark, name in BENCHMARK_MODELS.items()}
    count = measure_runtime_counts(catalog, output, models,
                                   log=lambda message: print(message, file=sys.stderr, flush=True))
    print(f"wrote {output}: {count} instruction counts")


def add_calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``hilbench calibrate``."""
    parser.description = (
        "Fit each catalog board's CPI (cycles per emulated instruction) against published "
        "MLPerf Tiny hardware results of CMSIS-NN software, predict every such result from "
        "the TFLite Micro + CMSIS-NN instruction counts of the Cortex-M4 twin (the proxy for "
        "the M7 and M33), leaving the predicted model out of the fit, and compare the "
        "catalog's power profiles with the published energy. The data ship with hilbench; "
        f"their sources are in {PROVENANCE}. The last line is 'median absolute error: X% "
        "over N pairs' over the catalog boards' pairs.")
    parser.epilog = ("examples:\n  hilbench calibrate\n"
                     "  hilbench calibrate --csv calibration.csv")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--csv", type=Path, metavar="FILE",
                        help="also write every pair (with its sources) to FILE")
    parser.add_argument("--measure-runtime", action="store_true",
                        help="first measure hilbench's own instructions per inference of the "
                             "MLPerf Tiny models on every catalog twin (QEMU, several minutes) "
                             "and rewrite the counts file the reality check reads")
    parser.add_argument("--runtime-counts", type=Path, default=RUNTIME_COUNTS_CSV, metavar="FILE",
                        help="hilbench's instruction counts (default: the shipped file)")
    parser.add_argument("--reality", action="store_true",
                        help="also print the reality check as a markdown table: per catalog "
                             "board x model, the twin's predictions for hilbench and for TFLM + "
                             "CMSIS-NN beside the fastest published result of each software")
    parser.add_argument("--plot", type=Path, metavar="FILE.svg",
                        help="also write the cross-validated predictions against the published "
                             "latency as a log-log SVG plot with the y = x line")
    parser.add_argument("--lab", metavar="FILE",
                        help="lab file whose boards' CPI and power profiles are checked too "
                             "(default: ./hilbench.yaml when it exists)")


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Run ``hilbench calibrate``."""
    from hilbench.boards import load_boards
    from hilbench.errors import ConfigError
    from hilbench.record.atomic import atomic_write_text

    outputs = [("--csv", args.csv), ("--plot", args.plot)]
    if args.measure_runtime:
        outputs.append(("--runtime-counts", args.runtime_counts))
    for option, path in outputs:
        # Checked before any work: a long measurement must not end in an unwritable path.
        if path is not None and not Path(path).parent.is_dir():
            raise ConfigError(f"{option} {path}: folder {Path(path).parent} does not exist")
    catalog = load_boards(args.lab)
    if args.measure_runtime:
        measure_runtime(catalog, args.runtime_counts)
    validated = calibrate()
    if args.csv:
        atomic_write_text(args.csv, validated.to_csv(index=False))
    print("Latency = instructions x CPI / clock. Instructions: TFLite Micro + CMSIS-NN on the "
          "Cortex-M4 twin (the M4 count is the proxy for Cortex-M7 and M33 boards). CPI: one "
          "per board and software, fitted on the board's other models (leave-one-model-out).")
    print(pairs_table(validated))
    print()
    fitted = cpi_fit.board_cpis(validated)
    for board in catalog.boards.values():
        fit = fitted.get(board.name)
        if fit is not None:
            print(f"{board.name}: cpi {fit.cpi:.3f} from {fit.families} ({fit.rounds}); "
                  f"cross-validated error up to {fit.error_band_pct:.1f}%")
        elif board.kind != "host":
            print(f"{board.name}: no published CMSIS-NN results; cpi {board.cpi:g} "
                  f"({board.cpi_source})")
    published = load_published()
    power_refits = power.refits(published, catalog)
    print()
    print(power.format_power_check(power.power_check(published, catalog)))
    for refit in power_refits.values():
        print(f"{refit.board}: active current refitted to {refit.active_ma:.1f} mA from "
              f"{refit.rows} results ({refit.setups})")
    for note in catalog_differences(fitted, power_refits, catalog):
        print(f"warning: {note}")
    print()
    if args.reality:
        from hilbench.calibration import reality
        from hilbench.calibration.published import load_runtime_counts

        counts = load_runtime_counts(args.runtime_counts)
        long = reality.reality_check(catalog, published, load_tflm_counts(), counts)
        print("Reality check, ms per inference (published: fastest per software, its round):")
        print(reality.markdown(reality.reality_table(long)))
        if counts is not None and len(counts):
            from hilbench.calibration.runtime_counts import changed_since

            measured_at = str(counts["git_sha"].iloc[0])
            changed = changed_since(measured_at)
            if changed:
                print(f"warning: hilbench's counts were measured at {measured_at[:10]}; "
                      f"{', '.join(changed)} changed since, so they may be stale: run "
                      "hilbench calibrate --measure-runtime")
        print()
    if args.plot:
        from hilbench.calibration.reality import prediction_points
        from hilbench.report.svg import scatter_predicted_published

        atomic_write_text(args.plot, scatter_predicted_published(
            "predicted-published", prediction_points(validated)))
        print(f"wrote {args.plot}")
    everywhere, count_all = cpi_fit.median_abs_error(validated)
    print(f"all boards with published CMSIS-NN results: median absolute error {everywhere:.1f}% "
          f"over {count_all} pairs")
    median, count = cpi_fit.median_abs_error(validated[validated["catalog_board"] != ""])
    print(f"median absolute error: {median:.1f}% over {count} pairs")
    return 0
