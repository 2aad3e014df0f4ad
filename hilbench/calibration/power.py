"""The catalog's power profiles against the published MLPerf Tiny energy.

A published row's average power is its energy per inference divided by its latency. The
catalog models energy as ``active_ma x voltage_v x latency`` (``energy_source = model``), so
the comparable figure is the current at the catalog's supply voltage:

- with an LDO regulator the MCU's current hardly depends on its supply voltage, so the
  published current (power / supply voltage) carries over to the catalog's voltage;
- with an SMPS the current changes with the voltage, so only a row measured at the catalog's
  own voltage carries over.

Where a board's rows carry over (its clock, regulator and a stated voltage), ``refit`` gives
the median current as the new ``active_ma``; the idle current is not measured by MLPerf Tiny
and stays the datasheet's. Energy from a refitted profile is still a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from hilbench.calibration.published import DATA_DIR, _read_csv

SUPPLY_CSV = DATA_DIR / "supply_voltages.csv"


def energy_rows(published: pd.DataFrame, supply_csv=SUPPLY_CSV) -> pd.DataFrame:
    """The catalog boards' published rows with an energy figure, with their supply voltage and
    regulator where the submission states them (NaN / empty otherwise)."""
    supply = _read_csv(supply_csv, "supply voltages")
    rows = published[(published["catalog_board"] != "") & published["energy_uj"].notna()]
    rows = rows.merge(supply[["round", "submitter", "board", "supply_v", "regulator"]],
                      on=["round", "submitter", "board"], how="left")
    rows["regulator"] = rows["regulator"].fillna("")
    rows["current_ma"] = rows["avg_power_mw"] / rows["supply_v"]
    return rows


def carries_over(rows: pd.DataFrame, voltage_v: float, clock_mhz: float) -> pd.Series:
    """Which rows' current is the catalog's current at ``voltage_v`` and ``clock_mhz``."""
    same_clock = rows["clock_mhz"] == clock_mhz
    ldo = rows["regulator"] == "LDO"
    same_voltage = (rows["supply_v"] - voltage_v).abs() < 0.05
    smps_same_voltage = (rows["regulator"] == "SMPS") & same_voltage
    return same_clock & (ldo | smps_same_voltage)


@dataclass(frozen=True)
class PowerRefit:
    """A board's active current refitted from published energy."""

    board: str
    active_ma: float
    rows: int
    setups: str

    def source(self) -> str:
        """One line for the catalog's power_profile.source."""
        return (f"active_ma: median current of {self.rows} MLPerf Tiny energy results "
                f"({self.setups}), whole supply rail, energy / latency / supply voltage")


def power_check(published: pd.DataFrame, catalog) -> pd.DataFrame:
    """Per catalog board x published setup: published average power and current against the
    catalog's profile, and whether the setup carries over to it (``refit``)."""
    rows = energy_rows(published)
    checks = []
    for board in catalog.boards.values():
        profile = board.power_profile
        mine = rows[rows["catalog_board"] == board.name]
        if profile is None or mine.empty:
            continue
        mine = mine.assign(refit=carries_over(mine, profile.voltage_v, board.clock_hz / 1e6))
        grouped = (mine.groupby(["board", "round", "submitter", "family"], sort=True)
                   .agg(supply_v=("supply_v", "first"), regulator=("regulator", "first"),
                        power_mw=("avg_power_mw", "median"), current_ma=("current_ma", "median"),
                        refit=("refit", "first"), models=("benchmark", "size"))
                   .reset_index())
        grouped.insert(0, "catalog_board", board.name)
        grouped["catalog_ma"] = profile.active_ma
        grouped["catalog_v"] = profile.voltage_v
        grouped["catalog_mw"] = profile.active_ma * profile.voltage_v
        checks.append(grouped)
    return pd.concat(checks, ignore_index=True) if checks else pd.DataFrame()


def refits(published: pd.DataFrame, catalog) -> dict[str, PowerRefit]:
    """The refitted active current of every catalog board whose published setup carries over."""
    rows = energy_rows(published)
    result = {}
    for board in catalog.boards.values():
        profile = board.power_profile
        if profile is None:
            continue
        mine = rows[rows["catalog_board"] == board.name]
        usable = mine[carries_over(mine, profile.voltage_v, board.clock_hz / 1e6)]
        if usable.empty:
            continue
        setups = ", ".join(
            f"{submitter} {rnd} at {volts:g} V {regulator}"
            for submitter, rnd, volts, regulator
            in usable[["submitter", "round", "supply_v", "regulator"]].drop_duplicates()
            .itertuples(index=False))
        result[board.name] = PowerRefit(board.name, float(usable["current_ma"].median()),
                                        len(usable), setups)
    return result


def format_power_check(checks: pd.DataFrame) -> str:
    """The power comparison as printed by ``hilbench calibrate``."""
    if checks.empty:
        return "no published energy results for the catalog boards"
    shown = checks.assign(
        supply_v=checks["supply_v"].map(lambda v: "-" if pd.isna(v) else f"{v:g}"),
        current_ma=checks["current_ma"].map(lambda v: "-" if pd.isna(v) else f"{v:.1f}"),
        refit=checks["refit"].map({True: "yes", False: "no"}),
        catalog=checks.apply(lambda r: f"{r['catalog_ma']:g} mA x {r['catalog_v']:g} V = "
                                       f"{r['catalog_mw']:.1f} mW", axis=1))
    columns = {"catalog_board": "board", "round": "round", "submitter": "submitter",
               "family": "software", "supply_v": "supply V", "regulator": "regulator",
               "power_mw": "published mW", "current_ma": "published mA",
               "catalog": "catalog profile", "refit": "carries over"}
    table = shown[list(columns)].rename(columns=columns).to_string(
        index=False, float_format=lambda value: f"{value:.1f}")
    return ("Power: published average power = energy / latency (whole supply rail, median over "
            "models), against the catalog's active profile. 'carries over': same clock, and an "
            "LDO (current independent of voltage) or an SMPS at the catalog's voltage.\n" + table)
