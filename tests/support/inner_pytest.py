"""Options for the pytest runs that tests start inside themselves (pytester, subprocesses)."""

# Other installed plugins only slow each inner run down; labgrid's, when installed, cannot be
# configured twice in one process (in-process pytester runs).
FAST_INNER_PYTEST = "-p no:benchmark -p no:hypothesispytest -p no:cacheprovider -p no:labgrid"
