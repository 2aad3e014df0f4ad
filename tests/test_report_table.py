"""Terminal table: aligned, units in headers, every figure with its label."""

from __future__ import annotations

from hilbench.record.rows import validate_row
from hilbench.report.table import format_results_table
from test_record_rows import sample_row


def rows():
    return [validate_row(r) for r in (
        sample_row("nano33", "kws01", "hardware"),
        sample_row("nucleo-l4r5zi", "kws01", "emulated", energy_uj=45.0),
        sample_row("host", "ad01", "host"),
    )]


def test_figures_show_unit_and_label():
    table = format_results_table(rows())
    lines = table.splitlines()
    header = lines[0]
    for title in ("latency p50 [ms]", "latency p90 [ms]", "energy/inference [uJ]",
                  "accuracy [%]", "accuracy delta [pt]", "flash [KiB]", "RAM [KiB]"):
        assert title in header
    nano, nucleo, host = lines[2:5]
    assert "339.4 ms (device-timer)" in nano and "10,181 uJ (probe)" in nano
    assert "181.0 ms (icount)" in nucleo and "45.00 uJ (model)" in nucleo
    assert "0.208 ms (host-clock)" in host and "ad01" in host
    assert "91.68 %" in nano and "-0.350 pt" in nano
    assert lines[-1].startswith("note: emulated, host rows are not measured on hardware")


def test_columns_are_aligned():
    lines = format_results_table(rows()).splitlines()
    header, rule, *body = lines[:5]
    # each column starts where the rule's dashes start; figures end where the dashes end
    starts = [i for i, c in enumerate(rule) if c == "-" and (i == 0 or rule[i - 1] == " ")]
    ends = [i for i, c in enumerate(rule)
            if c == "-" and (i + 1 == len(rule) or rule[i + 1] == " ")]
    for line in body:
        for start in starts[:4]:                        # text columns: left-aligned
            assert line[start] != " " and (start == 0 or line[start - 1] == " ")
        for end in ends[4:]:                            # figures: right-aligned
            assert line[end] != " " and (end + 1 >= len(line) or line[end + 1] == " ")


def test_optional_columns_only_when_measured():
    plain = format_results_table([validate_row(sample_row(cycles_per_inference=None,
                                                          bitexact_rate=None, flash_bytes=None,
                                                          ram_bytes=None))])
    assert "cloud latency" not in plain and "flash" not in plain and "cycles" not in plain
    assert "-" in plain.splitlines()[2]
    cloud = format_results_table([validate_row(sample_row(cloud_latency_ms=41.7))])
    assert "cloud latency [ms]" in cloud and "41.70 ms" in cloud
    assert "note:" not in cloud  # hardware only: no estimate note


def test_no_rows():
    assert format_results_table([]) == "(no results)"
