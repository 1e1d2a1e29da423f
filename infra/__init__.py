"""How Mamori runs: the ``mamori`` command, the process launcher, demo data, container files."""
