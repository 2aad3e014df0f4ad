"""Report stage: terminal table, leaderboard CSV, regression compare and HTML report.

``SUBCOMMANDS`` lists the `hilbench` subcommands of this stage for the CLI to register:
name -> (one-line help, add_arguments(parser), command(args) -> exit code).
"""

from hilbench.report.compare import add_compare_arguments, cmd_compare
from hilbench.report.html import add_report_arguments, cmd_report
from hilbench.report.leaderboard import add_leaderboard_arguments, cmd_leaderboard
from hilbench.report.table import format_results_table

SUBCOMMANDS = {
    "leaderboard": ("merge runs into results/leaderboard.csv (latest row per board x model x "
                    "runtime x mode)", add_leaderboard_arguments, cmd_leaderboard),
    "compare": ("compare a run with a baseline and fail on regressions (--fail-on median:5%)",
                add_compare_arguments, cmd_compare),
    "report": ("write a self-contained HTML report with tables and plots",
               add_report_arguments, cmd_report),
}

__all__ = ["SUBCOMMANDS", "format_results_table", "add_compare_arguments", "cmd_compare",
           "add_leaderboard_arguments", "cmd_leaderboard", "add_report_arguments",
           "cmd_report"]
