"""A lab of shared boards: labgrid places (reserve, acquire, release) and board locks.

- :mod:`hilbench.lab.config`: the lab file's ``labgrid:`` section, validated.
- :mod:`hilbench.lab.places`: a labgrid client session that holds one place per board.
- :mod:`hilbench.lab.locks`: file locks that keep a board to one process when there is no
  labgrid coordinator.

See docs/lab.md.
"""
