"""Calibration: turn an emulated twin's instruction count into a prediction that can be checked.

``hilbench calibrate`` fits an effective CPI per board from published MLPerf Tiny hardware
results (:mod:`.published` reads them, :mod:`.cpi_fit` fits and cross-validates), compares
the catalog's power profiles with the published energy (:mod:`.power`), and sets the twins'
predictions beside the published figures (:mod:`.reality`). docs/emulation.md explains the
model and its limits.
"""
