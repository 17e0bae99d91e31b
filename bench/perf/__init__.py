"""The performance benchmark: data set, stock DRF comparison build, load driver (see README)."""
