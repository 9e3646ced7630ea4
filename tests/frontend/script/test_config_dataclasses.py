"""Dataclass configs held by modules (`self.cfg.hidden`) are read as constants (Note [Config dataclasses])."""
import dataclasses
import enum
from typing import Tuple

import pytest
import torch
import torch.nn as nn

import torchkiln

from .test_errors import line_of


class Act(enum.Enum):
    RELU = "relu"
    GELU = "gelu"


@dataclasses.dataclass
class Inner:
    eps: float = 1e-5


@dataclasses.dataclass
class Config:
    hidden: int = 4
    scale: float = 2.0
    act: str = "relu"
    kind: Act = Act.GELU
    dims: Tuple[int, int] = (2, 2)
    inner: Inner = dataclasses.field(default_factory=Inner)
    use_bias: bool = True

    @property
    def half(self) -> int:
        return self.hidden // 2


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.lin = nn.Linear(cfg.hidden, cfg.hidden, bias=cfg.use_bias)

    def forward(self, x):
        y = self.lin(x) * self.cfg.scale
        if self.cfg.act == "relu":
            y = torch.relu(y)
        if self.cfg.kind == Act.GELU:
            y = torch.nn.functional.gelu(y)
        y = y + self.cfg.inner.eps + self.cfg.half + self.cfg.dims[1]
        return y.reshape(-1, self.cfg.dims[0] * self.cfg.dims[1])


@pytest.mark.parametrize("cfg", [Config(), Config(act="tanh", kind=Act.RELU, scale=0.5), Config(hidden=8, dims=(4, 2), use_bias=False)], ids=str)
def test_config_fields_are_constants(cfg):
    torch.manual_seed(0)
    m = Block(cfg).eval()
    x = torch.randn(3, cfg.hidden)
    s = torchkiln.script(m)
    assert torch.allclose(s(x), m(x))
    assert "GetAttr[name=\"cfg\"]" not in str(s.graph) and "cfg" not in s.code  # folded away
    assert s.cfg == cfg and s.cfg is not cfg  # a copy, as it was when compiled


def test_modules_with_different_configs_get_their_own_code():
    torch.manual_seed(0)
    a, b = Block(Config()).eval(), Block(Config(act="tanh")).eval()
    holder = nn.Sequential(a, b)
    s = torchkiln.script(holder)
    x = torch.randn(2, 4)
    assert torch.allclose(s(x), holder(x))


def test_a_changed_config_is_compiled_again():
    torch.manual_seed(0)
    m = Block(Config()).eval()
    x = torch.randn(2, 4)
    first = torchkiln.script(m)
    m.cfg.scale = 3.0  # changed after scripting: the first program keeps its constants
    second = torchkiln.script(m)
    assert torch.allclose(second(x), m(x))
    m.cfg.scale = 2.0
    assert torch.allclose(first(x), m(x))


def test_save_and_load_keep_the_constants(tmp_path):
    torch.manual_seed(0)
    m = Block(Config(hidden=8, dims=(4, 2))).eval()
    s = torchkiln.script(m)
    path = str(tmp_path / "block.pt")
    torchkiln.save(s, path)
    loaded = torchkiln.load(path)
    x = torch.randn(2, 8)
    assert torch.allclose(loaded(x), m(x))


class PassesConfig(nn.Module):
    def __init__(self):
        super().__init__()
        self.cfg = Config()

    def forward(self, x):
        return helper(x, self.cfg)


def helper(x, cfg: int):
    return x


class ReadsMissing(nn.Module):
    def __init__(self):
        super().__init__()
        self.cfg = Config()

    def forward(self, x):
        return x * self.cfg.missing


@dataclasses.dataclass
class WithTensor:
    weight: torch.Tensor


class HoldsTensorConfig(nn.Module):
    def __init__(self):
        super().__init__()
        self.cfg = WithTensor(torch.ones(2))

    def forward(self, x):
        return x * self.cfg.weight


@pytest.mark.parametrize(
    "cls,needle,words",
    [
        (PassesConfig, "helper(x, self.cfg)", "is not a value in script"),
        (ReadsMissing, "self.cfg.missing", "has no field 'missing'"),
        (HoldsTensorConfig, "self.cfg.weight", "cannot be used in script"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_refused_uses(cls, needle, words):
    with pytest.raises(torchkiln.CompileError) as info:
        torchkiln.script(cls())
    message = str(info.value)
    assert words in message, message
    if cls is not HoldsTensorConfig:  # that one is refused where the attribute is read
        assert f"line {line_of(cls.forward, needle)}," in message and "^" in message, message


class FromNamespace(nn.Module):
    def __init__(self, ns):
        super().__init__()
        self.args = ns

    def forward(self, x):
        if self.args.mode == "double":
            return x * 2 + self.args.offset
        return x + self.args.offset


@pytest.mark.parametrize("make", [lambda **kw: __import__("types").SimpleNamespace(**kw), lambda **kw: __import__("argparse").Namespace(**kw)], ids=["SimpleNamespace", "argparse"])
def test_namespaces_are_configs_too(make):
    x = torch.randn(3)
    for mode in ("double", "single"):
        m = FromNamespace(make(mode=mode, offset=1.5))
        assert torch.equal(torchkiln.script(m)(x), m(x))
