"""Every pass test runs with verification after each pass (`config.verify`)."""
import pytest

from torchkiln.passes.config import config


@pytest.fixture(autouse=True)
def _verify_after_every_pass():
    saved = config.verify
    config.verify = True
    yield
    config.verify = saved
