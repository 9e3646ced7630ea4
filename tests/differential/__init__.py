"""Every scripted and traced program a test calls, run again through `torchkiln-run`.

`recorder.py` records the calls (archive, inputs, the Python executor's
outcome), `check.py` runs them through the C++ runner and compares,
`plugin.py` holds the pytest hooks (installed by `tests/conftest.py`) and
the explicit lists of exclusions and known bugs.
"""
