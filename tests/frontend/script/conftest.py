"""Every scripted graph in these tests is verified before and after each pass."""
import pytest

from torchkiln.passes.config import config


@pytest.fixture(autouse=True)
def _verify_ir():
    saved = config.verify
    config.verify = True
    yield
    config.verify = saved
