"""Each codegen test starts with an empty compile cache."""
import pytest

from torchkiln.codegen import clear_cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
