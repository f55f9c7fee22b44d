"""Helpers shared by test suites (imported as ``tests.support``; no test file loads another
test file by path): the in-process kernel adapter and the simulated host."""
