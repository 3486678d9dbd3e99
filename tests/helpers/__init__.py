"""What several test modules share (towns, seeds, clients, simulators); tests import from here,
never from one another. Fixtures are in `tests/conftest.py`."""
