"""Conformance to the Omnitron spec: a corrected copy of it and the tests that use it."""
