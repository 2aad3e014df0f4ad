"""`hilbench report`: a self-contained HTML page, checked in headless Chromium."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hilbench.record.rows import ResultsError
from hilbench.record.store import RunRecorder
from hilbench.report.html import add_report_arguments, cmd_report, render_report
from hilbench.record.rows import validate_row
from test_record_rows import sample_row
from test_record_store import measurement

# Appended to a copy of the report under test: records where the browser laid out every
# plot mark, so the test sees what was rendered, not just what was written.
LAYOUT_PROBE = """
<script>
const marks = [...document.querySelectorAll('svg .hb-mark')].map(mark => {
  const box = mark.getBoundingClientRect();
  return {cls: mark.getAttribute('class'), chart: mark.closest('svg').id,
          board: mark.dataset.board, mode: mark.dataset.mode,
          latency: mark.dataset.latencySource, energy: mark.dataset.energySource,
          tooltip: (mark.querySelector('title') || {}).textContent || '',
          width: box.width, height: box.height};
});
const pre = document.createElement('pre');
pre.id = 'layout';
pre.textContent = JSON.stringify(marks);
document.body.appendChild(pre);
</script>
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is needed to check the report: apt-get install -y chromium")


def chromium_command(profile: Path, *arguments: str) -> list[str]:
    """A headless Chromium run with a throw-away profile and no network chatter."""
    return ["nice", chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
            *arguments]


def rendered_marks(report: Path, tmp_path: Path) -> tuple[str, list[dict]]:
    probe_copy = tmp_path / "probe.html"
    probe_copy.write_text(report.read_text().replace("</body>", LAYOUT_PROBE + "</body>"))
    result = subprocess.run(chromium_command(tmp_path / "profile", "--window-size=1200,2000",
                                             "--dump-dom",
                                             probe_copy.as_uri()),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    match = re.search(r'<pre id="layout">(.*?)</pre>', dom, re.S)
    assert match, "the layout probe did not run"
    text = match.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">") \
        .replace("&amp;", "&")
    return dom, json.loads(text)


def run_report(*argv) -> int:
    parser = argparse.ArgumentParser(prog="hilbench report")
    add_report_arguments(parser)
    return cmd_report(parser.parse_args([str(a) for a in argv]))


@pytest.fixture(scope="module")
def lab_results(tmp_path_factory):
    """Two runs: hardware with a probe, emulated twins with modeled energy, a host build,
    cloud figures for one board."""
    results = tmp_path_factory.mktemp("results")
    hardware = RunRecorder.start(results, command_line=["pytest", "--board=nano33"])
    for model in ("kws01", "vww01"):
        hardware.append_row(measurement(board="nano33", model=model, cloud_latency_ms=41.7,
                                        bytes_on_air_edge=12, bytes_on_air_cloud=16_044))
        hardware.append_row(measurement(board="nucleo-l4r5zi", model=model,
                                        energy_source="capture"))
    emulated = RunRecorder.start(results, command_line=["pytest", "--emulate"])
    for model in ("kws01", "vww01"):
        emulated.append_row(measurement(board="nucleo-l4r5zi", model=model, mode="emulated",
                                        slower_by=1.3))
    emulated.append_row(measurement(board="host", model="kws01", mode="host"))
    return results, [hardware.run_dir, emulated.run_dir]


def test_report_renders_every_plot_with_labels(lab_results, tmp_path, capsys):
    results, run_dirs = lab_results
    output = tmp_path / "report.html"
    assert run_report(*run_dirs, "-o", output, "--title", "Lab nightly") == 0
    assert "wrote" in capsys.readouterr().out
    html = output.read_text()

    # self-contained: nothing to fetch (the SVG namespace URI is a name, not a request)
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"(src|href)=|url\(\s*['\"]?(https?:|//)", html)
    assert set(re.findall(r"https?://[^\"' )]+", html)) <= {"http://www.w3.org/2000/svg"}

    dom, marks = rendered_marks(output, tmp_path)
    assert "<svg" in dom and "Lab nightly" in dom
    for mark in marks:
        assert mark["width"] > 0 and mark["height"] > 0, mark  # laid out, visible

    by_chart = {}
    for mark in marks:
        by_chart.setdefault(mark["chart"].rsplit("-", 1)[0] if mark["chart"].startswith(
            "latency-") else mark["chart"], []).append(mark)
    # latency: one bar per row, per-model charts
    latency_bars = by_chart["latency"]
    assert len(latency_bars) == 7
    assert {m["chart"] for m in latency_bars} == {"latency-0", "latency-1"}
    # energy vs latency: rows with energy (host has none)
    points = [m for m in by_chart["energy-latency"] if "hb-point" in m["cls"]]
    assert len(points) == 6
    assert {m["energy"] for m in points} == {"probe", "capture", "model"}
    # accuracy delta: one bar per row
    assert len(by_chart["accuracy-delta"]) == 7
    # edge vs cloud: an edge and a cloud bar for each row with cloud figures
    cloud = by_chart["edge-cloud"]
    assert sorted(m["cls"].split()[2] for m in cloud) == ["hb-cloud"] * 2 + ["hb-edge"] * 2

    for mark in marks:
        # estimates are marked as such; hardware measurements are not
        estimate = "hb-estimate" in mark["cls"]
        if mark["mode"] != "hardware":
            assert estimate or "hb-cloud" in mark["cls"], mark
        if mark["mode"] == "hardware" and "hb-point" not in mark["cls"]:
            assert not estimate, mark
        # every tooltip names the mode and the figure's label
        assert f"mode: {mark['mode']}" in mark["tooltip"]
    emulated_latency = [m for m in latency_bars if m["mode"] == "emulated"]
    assert emulated_latency and all("(icount)" in m["tooltip"] for m in emulated_latency)
    assert all("(probe)" in m["tooltip"] or "(capture)" in m["tooltip"]
               or "(model)" in m["tooltip"] for m in points)

    # tables carry the labels too
    table = re.search(r'<table id="results-table">.*?</table>', dom, re.S).group(0)
    assert table.count("<tr") == 8
    for label in ("icount", "device-timer", "host-clock", "probe", "capture", "model"):
        assert f">{label}<" in table
    cloud_table = re.search(r'<table id="edge-cloud-table">.*?</table>', dom, re.S).group(0)
    assert ">16,044</td>" in cloud_table and ">41.70</td>" in cloud_table
    # legends explain the styles
    assert "energy_source model (estimate)" in dom and "hardware measurement" in dom
    # reality check: every cross-validated prediction against its published latency, y = x drawn
    predictions = by_chart["predicted-published"]
    assert len(predictions) == 16 and all("hb-estimate" in m["cls"] for m in predictions)
    assert 'class="hb-identity"' in dom and "y = x" in dom
    reality = re.search(r'<table [^>]*id="reality-table".*?</table>', dom, re.S).group(0)
    assert "twin: TFLM + CMSIS-NN" in reality and "published: X-CUBE-AI" in reality


def test_report_without_energy_or_cloud_says_so(tmp_path):
    rows = [validate_row(sample_row("host", "kws01", "host"))]
    html = render_report(rows, "host only", ["test"])
    assert "No energy was measured" in html
    assert "Edge vs cloud" not in html
    assert html.count('class="hb-mark hb-bar') == 2  # latency + accuracy delta


def test_report_escapes_names(tmp_path):
    row = sample_row()
    row["board"] = '<img src=x onerror="alert(1)">'
    html = render_report([validate_row(row)], "<b>title</b>", ["test"])
    assert "<img" not in html and "<b>title" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_report_screenshot_is_produced(lab_results, tmp_path):
    results, run_dirs = lab_results
    output = tmp_path / "report.html"
    run_report(*run_dirs, "-o", output)
    screenshot = tmp_path / "report.png"
    subprocess.run(chromium_command(tmp_path / "profile", "--window-size=1200,3000",
                                    f"--screenshot={screenshot}", output.as_uri()),
                   capture_output=True, timeout=120, check=True)
    header = screenshot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == 1200


def test_report_with_no_rows_is_a_clear_error(tmp_path):
    with pytest.raises(ResultsError,
                       match="no leaderboard at .*leaderboard.csv: run `hilbench leaderboard`"):
        run_report("--results-dir", tmp_path)
    with pytest.raises(ResultsError, match="no result rows to report"):
        render_report([], "empty", [])
