"""Real-world model shapes through script/trace -> save -> load (every executor) and `torchkiln-run`.

Each case is a small hand-written model of a common architecture (torchvision
is not a dependency): MobileNet/EfficientNet/ResNeXt/DenseNet blocks, UNet
decoders, ViT, attention with masks, seq2seq greedy decoding, Viterbi,
recommendation models, norms, pooling, exported utility methods, optional
inputs, data-dependent control flow and dtype casts. Every result is compared
with eager PyTorch. A case that torchkiln cannot run yet is listed in XFAIL
with the reason (strict: it fails the suite once fixed).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import torchkiln
from torchkiln import Final
from torchkiln.cpp_executor import CppFallbackWarning

import cpp_runtime

EXECUTORS = ("cpp", "python", "interpreter")


@dataclass
class Case:
    name: str
    make: Callable[[], nn.Module]
    inputs: Callable[[], Sequence[Any]]
    trace: bool = True  # no data-dependent control flow: trace it too
    calls: Callable[[], List[Tuple[str, Sequence[Any]]]] = field(default=lambda: [])  # extra method calls (script only)
    inputs_list: Optional[Callable[[], List[Sequence[Any]]]] = None  # several forward inputs (script only)
    atol: float = 1e-5
    rtol: float = 1e-5


CASES: List[Case] = []


def case(name: str, inputs: Callable[[], Sequence[Any]], **kw: Any) -> Callable[[Callable[[], nn.Module]], Callable[[], nn.Module]]:
    def register(make: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
        CASES.append(Case(name, make, inputs, **kw))
        return make

    return register


def randomize_bn(m: nn.Module) -> nn.Module:
    """Non-trivial running statistics and affine parameters for every norm layer; eval mode."""
    g = torch.Generator().manual_seed(1)
    for mod in m.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            if mod.affine:
                mod.weight.data.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
                mod.bias.data.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
    return m.eval()


def img(c: int = 8, h: int = 8, w: int = 8, n: int = 2) -> Callable[[], Sequence[Any]]:
    return lambda: [torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(2))]


def rnd(*shape: int, seed: int = 2) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# -- convolutional blocks ---------------------------------------------------------------------


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand: int):
        super().__init__()
        hidden = inp * expand
        self.use_res = stride == 1 and inp == oup
        layers: List[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(inp, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res:
            return x + self.conv(x)
        return self.conv(x)


@case("mobilenetv2_inverted_residual", img())
def _():
    return randomize_bn(InvertedResidual(8, 8, 1, 4))


class MobileNetTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(inplace=True))
        self.blocks = nn.Sequential(InvertedResidual(8, 8, 1, 1), InvertedResidual(8, 12, 2, 6), InvertedResidual(12, 12, 1, 6))
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(12, 5))

    def forward(self, x):
        x = self.blocks(self.stem(x))
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.head(x)


@case("mobilenetv2_tiny", img(3, 16, 16))
def _():
    return randomize_bn(MobileNetTiny())


class SqueezeExcitation(nn.Module):
    def __init__(self, c: int, squeeze: int, act: nn.Module = nn.ReLU()):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.act = act
        self.scale_act = nn.Hardsigmoid()

    def forward(self, x):
        s = self.avgpool(x)
        s = self.fc2(self.act(self.fc1(s)))
        return x * self.scale_act(s)


@case("squeeze_excitation", img())
def _():
    return SqueezeExcitation(8, 2).eval()


class MBConv(nn.Module):
    def __init__(self, c: int, expand: int = 4):
        super().__init__()
        h = c * expand
        self.expand = nn.Sequential(nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.SiLU())
        self.dw = nn.Sequential(nn.Conv2d(h, h, 3, 1, 1, groups=h, bias=False), nn.BatchNorm2d(h), nn.SiLU())
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(h, c // 2, 1), nn.SiLU(), nn.Conv2d(c // 2, h, 1), nn.Sigmoid())
        self.project = nn.Sequential(nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        y = self.dw(self.expand(x))
        y = y * self.se(y)
        return x + self.project(y)


@case("efficientnet_mbconv_silu", img())
def _():
    return randomize_bn(MBConv(8))


class ResNeXtBlock(nn.Module):
    def __init__(self, inp: int, out: int, groups: int, stride: int):
        super().__init__()
        w = out
        self.conv1 = nn.Conv2d(inp, w, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.conv2 = nn.Conv2d(w, w, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(w)
        self.conv3 = nn.Conv2d(w, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: Optional[nn.Module] = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


@case("resnext_grouped_conv", img())
def _():
    return randomize_bn(nn.Sequential(ResNeXtBlock(8, 16, 4, 2), ResNeXtBlock(16, 16, 4, 1)))


class DenseLayer(nn.Module):
    def __init__(self, inp: int, growth: int):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(inp)
        self.conv1 = nn.Conv2d(inp, 2 * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(2 * growth)
        self.conv2 = nn.Conv2d(2 * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: List[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        x = self.conv1(F.relu(self.norm1(x)))
        return self.conv2(F.relu(self.norm2(x)))


class DenseBlock(nn.ModuleDict):
    def __init__(self, n: int, inp: int, growth: int):
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", DenseLayer(inp + i * growth, growth))

    def forward(self, x):
        features = [x]
        for name, layer in self.items():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNetTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = DenseBlock(3, 8, 4)
        self.transition = nn.Sequential(nn.BatchNorm2d(20), nn.ReLU(inplace=True), nn.Conv2d(20, 10, 1, bias=False),
                                        nn.AvgPool2d(2, 2))

    def forward(self, x):
        return self.transition(self.block(x))


@case("densenet_concat_block", img(), trace=False)  # trace: a list argument to submodules
def _():
    return randomize_bn(DenseNetTiny())


class BasicBlock(nn.Module):
    def __init__(self, inp: int, out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.shortcut = nn.Sequential()
        if stride != 1 or inp != out:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


@case("resnet_basic_blocks_maxpool", img(3, 16, 16))
def _():
    return randomize_bn(nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.MaxPool2d(3, 2, 1), BasicBlock(8, 8, 1),
                                      BasicBlock(8, 16, 2), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(16, 3)))


class ESPCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 5, padding=2)
        self.c2 = nn.Conv2d(8, 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x):
        y = torch.tanh(self.c1(x))
        y = self.shuffle(self.c2(y))
        return torch.clamp(y, 0.0, 1.0), F.pixel_unshuffle(y, 2)


@case("espcn_pixel_shuffle", img(1, 6, 6))
def _():
    return ESPCN().eval()


# -- encoder / decoder -------------------------------------------------------------------------


class DoubleConv(nn.Sequential):
    def __init__(self, i: int, o: int):
        super().__init__(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode
        self.enc1 = DoubleConv(3, 4)
        self.enc2 = DoubleConv(4, 8)
        self.bottleneck = DoubleConv(8, 16)
        self.up2 = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec2 = DoubleConv(16, 8)
        self.reduce = nn.Conv2d(8, 4, 1)
        self.dec1 = DoubleConv(8, 4)
        self.out = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottleneck(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], dim=1))
        d2 = self.reduce(d2)
        if self.mode == "nearest":
            u = F.interpolate(d2, scale_factor=2.0, mode="nearest")
        elif self.mode == "bilinear":
            u = F.interpolate(d2, size=e1.shape[-2:], mode="bilinear", align_corners=False)
        else:
            u = F.interpolate(d2, size=(e1.size(2), e1.size(3)), mode="bilinear", align_corners=True)
        d1 = self.dec1(torch.cat((u, e1), 1))
        return self.out(d1)


for _mode in ("nearest", "bilinear", "bilinear_align_corners"):
    case(f"unet_convtranspose_interpolate_{_mode}", img(3, 12, 12))((lambda m: lambda: randomize_bn(UNet(m)))(_mode))


class UpsampleModules(nn.Module):
    def __init__(self):
        super().__init__()
        self.up_nearest = nn.Upsample(scale_factor=2, mode="nearest")
        self.up_bilinear = nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=False)
        self.up_bicubic = nn.Upsample(size=(5, 7), mode="bicubic", align_corners=True)

    def forward(self, x):
        return self.up_nearest(x), self.up_bilinear(x), self.up_bicubic(x), F.interpolate(x, scale_factor=(2.0, 3.0))


@case("upsample_modules", img(2, 4, 4))
def _():
    return UpsampleModules()


class Interp1d3d(nn.Module):
    def forward(self, a, v):
        return (F.interpolate(a, scale_factor=2.0, mode="linear"), F.interpolate(a, size=9, mode="nearest"),
                F.interpolate(v, scale_factor=2.0, mode="trilinear"), F.adaptive_avg_pool3d(v, 1))


@case("interpolate_1d_3d", lambda: [rnd(2, 3, 5), rnd(1, 2, 3, 4, 4)])
def _():
    return Interp1d3d()


# -- attention ---------------------------------------------------------------------------------


class ViT(nn.Module):
    def __init__(self, img_size: int = 8, patch: int = 4, dim: int = 16, depth: int = 2, heads: int = 2, classes: int = 5):
        super().__init__()
        n = (img_size // patch) ** 2
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        x = self.encoder(x)
        return self.head(self.norm(x)[:, 0])


@case("vit_transformer_encoder", img(3, 8, 8), atol=1e-4, rtol=1e-4)
def _():
    torch.manual_seed(0)
    return ViT().eval()


class MHAMasks(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, q, kv, key_padding_mask: torch.Tensor, attn_mask: torch.Tensor):
        out, w = self.mha(q, kv, kv, key_padding_mask=key_padding_mask, attn_mask=attn_mask)
        out2, _ = self.mha(q, q, q, need_weights=False)
        return out, w, out2


def _mha_inputs():
    kpm = torch.tensor([[False, False, False, True, True], [False, False, False, False, False]])
    am = torch.zeros(4, 5, dtype=torch.bool)
    am[0, 1] = True
    return [rnd(2, 4, 8), rnd(2, 5, 8, seed=3), kpm, am]


@case("multihead_attention_masks", _mha_inputs)
def _():
    torch.manual_seed(0)
    return MHAMasks().eval()


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int = 16, heads: int = 4, block: int = 8):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.register_buffer("bias", torch.tril(torch.ones(block, block)).view(1, 1, block, block))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.qkv(x).split(C, dim=2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class GPTBlock(nn.Module):
    def __init__(self, dim: int = 16):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(approximate="tanh"), nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPTTriu(nn.Module):
    """Causal mask built per call with torch.triu, scaled_dot_product_attention as a cross-check."""

    def __init__(self, dim: int = 16):
        super().__init__()
        self.tok = nn.Embedding(20, dim)
        self.pos = nn.Embedding(8, dim)
        self.block = GPTBlock(dim)
        self.lm_head = nn.Linear(dim, 20, bias=False)

    def forward(self, idx):
        t = idx.size(1)
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.tok(idx) + self.pos(pos)
        x = self.block(x)
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        scores = (x @ x.transpose(-2, -1)).masked_fill(mask, float("-inf")).softmax(-1)
        sdpa = F.scaled_dot_product_attention(x.unsqueeze(1), x.unsqueeze(1), x.unsqueeze(1), is_causal=True)
        return self.lm_head(x), scores, sdpa


@case("gpt_causal_self_attention", lambda: [torch.randint(0, 20, (2, 6), generator=torch.Generator().manual_seed(2))],
      atol=1e-4, rtol=1e-4)
def _():
    torch.manual_seed(0)
    return GPTTriu().eval()


class RoPE(nn.Module):
    def __init__(self, dim: int = 8):
        super().__init__()
        inv = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv)

    def forward(self, x):
        t = torch.arange(x.shape[1], dtype=torch.float32)
        freqs = torch.outer(t, self.inv_freq)
        cos, sin = freqs.cos(), freqs.sin()
        x1, x2 = x[..., 0::2], x[..., 1::2]
        rot = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)
        # RMSNorm + SwiGLU
        normed = rot * torch.rsqrt(rot.pow(2).mean(-1, keepdim=True) + 1e-6)
        a, b = normed.chunk(2, dim=-1)
        return F.silu(a) * b


@case("rope_rmsnorm_swiglu", lambda: [rnd(2, 5, 8)])
def _():
    return RoPE()


class TransformerSeq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.tf = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16,
                                 dropout=0.0, batch_first=True)

    def forward(self, src, tgt):
        mask = nn.Transformer.generate_square_subsequent_mask(tgt.size(1))
        return self.tf(src, tgt, tgt_mask=mask, tgt_is_causal=True)


@case("nn_transformer_tgt_mask", lambda: [rnd(2, 5, 8), rnd(2, 4, 8, seed=3)], atol=1e-4, rtol=1e-4)
def _():
    torch.manual_seed(0)
    return TransformerSeq2Seq().eval()


# -- recurrent ---------------------------------------------------------------------------------


class LSTMSeq2Seq(nn.Module):
    def __init__(self, vocab: int = 12, hidden: int = 8, eos: int = 1, max_len: int = 6):
        super().__init__()
        self.emb = nn.Embedding(vocab, hidden)
        self.encoder = nn.LSTM(hidden, hidden, num_layers=2, batch_first=True)
        self.decoder = nn.LSTMCell(hidden, hidden)
        self.out = nn.Linear(hidden, vocab)
        self.eos = eos
        self.max_len = max_len

    def forward(self, src):
        _, (h, c) = self.encoder(self.emb(src))
        hx, cx = h[-1], c[-1]
        tok = torch.zeros(src.size(0), dtype=torch.long)
        outputs: List[torch.Tensor] = []
        step = 0
        while step < self.max_len:
            hx, cx = self.decoder(self.emb(tok), (hx, cx))
            logits = self.out(hx)
            tok = logits.argmax(-1)
            outputs.append(tok)
            if bool((tok == self.eos).all()):
                break
            step += 1
        return torch.stack(outputs, 1), hx


def _tokens(n: int = 2, t: int = 5, vocab: int = 12, seed: int = 2):
    return torch.randint(0, vocab, (n, t), generator=torch.Generator().manual_seed(seed))


@case("lstm_seq2seq_greedy_decode", lambda: [_tokens()], trace=False,
      inputs_list=lambda: [[_tokens(seed=s)] for s in range(4)])
def _():
    torch.manual_seed(0)
    return LSTMSeq2Seq().eval()


class GRUSeq2Seq(nn.Module):
    def __init__(self, vocab: int = 10, hidden: int = 8):
        super().__init__()
        self.emb = nn.Embedding(vocab, hidden)
        self.encoder = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.decoder = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, src, max_len: int = 5) -> List[int]:
        enc, h = self.encoder(self.emb(src))
        h = torch.tanh(self.bridge(torch.cat([h[0], h[1]], -1))).unsqueeze(0)
        tok = torch.tensor([[0]])
        result: List[int] = []
        for _ in range(max_len):
            o, h = self.decoder(self.emb(tok), h)
            # attention over the encoder states
            att = torch.softmax((enc[:, :, :8] * o).sum(-1), dim=-1)
            ctx = (att.unsqueeze(-1) * enc[:, :, 8:]).sum(1)
            nxt = int(self.out(o[:, -1] + ctx).argmax(-1).item())
            if nxt == 2:
                break
            result.append(nxt)
            tok = torch.tensor([[nxt]])
        return result


@case("gru_seq2seq_attention_decode", lambda: [_tokens(1, 6, 10)], trace=False,
      inputs_list=lambda: [[_tokens(1, 6, 10, seed=s), 3 + s] for s in range(3)])
def _():
    torch.manual_seed(0)
    return GRUSeq2Seq().eval()


class CRF(nn.Module):
    def __init__(self, tags: int = 4):
        super().__init__()
        g = torch.Generator().manual_seed(5)
        self.transitions = nn.Parameter(torch.randn(tags, tags, generator=g))
        self.start = nn.Parameter(torch.randn(tags, generator=g))
        self.end = nn.Parameter(torch.randn(tags, generator=g))
        self.names = ["O", "B-PER", "I-PER", "B-LOC"]

    def forward(self, emissions) -> Tuple[List[int], float, Dict[str, int]]:
        # emissions: (T, tags)
        score = self.start + emissions[0]
        history: List[torch.Tensor] = []
        for t in range(1, emissions.size(0)):
            nxt = score.unsqueeze(1) + self.transitions + emissions[t].unsqueeze(0)
            best, idx = nxt.max(dim=0)
            history.append(idx)
            score = best
        score = score + self.end
        best_score, last = score.max(0)
        path = [int(last)]
        for idx in history[::-1]:
            path.append(int(idx[path[-1]]))
        path.reverse()
        counts: Dict[str, int] = {}
        for p in path:
            name = self.names[p]
            counts[name] = counts.get(name, 0) + 1
        return path, float(best_score), counts


@case("crf_viterbi_decode", lambda: [rnd(6, 4)], trace=False)
def _():
    return CRF()


class BiLSTMTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 6, padding_idx=0)
        self.lstm = nn.LSTM(6, 5, bidirectional=True, batch_first=True, num_layers=1)
        self.fc = nn.Linear(10, 3)

    def forward(self, x, h0: Optional[Tuple[torch.Tensor, torch.Tensor]] = None):
        out, (h, c) = self.lstm(self.emb(x), h0)
        return F.log_softmax(self.fc(out), -1), h


@case("bilstm_tagger_optional_state", lambda: [_tokens(2, 4, 10)],
      inputs_list=lambda: [[_tokens(2, 4, 10)], [_tokens(2, 4, 10), (rnd(2, 2, 5), rnd(2, 2, 5, seed=4))]])
def _():
    torch.manual_seed(0)
    return BiLSTMTagger().eval()


# -- recommendation / sparse -------------------------------------------------------------------


class DLRMTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.bag_sum = nn.EmbeddingBag(20, 4, mode="sum")
        self.bag_mean = nn.EmbeddingBag(15, 4, mode="mean")
        self.bag_max = nn.EmbeddingBag(15, 4, mode="max")
        self.user = nn.Embedding(6, 4)
        self.bottom = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.top = nn.Linear(4 + 6, 1)

    def forward(self, dense, ids, offsets, users, weights):
        feats = [self.bottom(dense), self.bag_sum(ids, offsets), self.bag_mean(ids % 15, offsets),
                 self.bag_max(ids % 15, offsets)]
        u = self.user(users)
        z = torch.stack(feats, 1)  # (B, 4, 4)
        inter = torch.bmm(z, z.transpose(1, 2))
        tri = torch.tril_indices(4, 4, offset=-1)
        flat = inter[:, tri[0], tri[1]]
        x = torch.cat([feats[0] * u, flat, ], 1)
        weighted = F.embedding_bag(ids, self.bag_sum.weight, offsets, mode="sum", per_sample_weights=weights)
        return torch.sigmoid(self.top(torch.cat([x, u[:, :0]], 1)) + weighted.sum(-1, keepdim=True))


def _dlrm_inputs():
    g = torch.Generator().manual_seed(2)
    return [torch.randn(3, 3, generator=g), torch.randint(0, 20, (7,), generator=g), torch.tensor([0, 2, 5]),
            torch.tensor([1, 4, 5]), torch.rand(7, generator=g)]


@case("dlrm_embedding_bag_interaction", _dlrm_inputs)
def _():
    torch.manual_seed(0)
    return DLRMTiny().eval()


class GraphConv(nn.Module):
    """Message passing: index_select, scatter_add, index_add, gather, scatter_reduce."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x, edge_index):
        src, dst = edge_index[0], edge_index[1]
        msg = self.lin(torch.index_select(x, 0, src))
        agg = torch.zeros_like(x).scatter_add_(0, dst.unsqueeze(1).expand(-1, x.size(1)), msg)
        deg = torch.zeros(x.size(0), dtype=x.dtype).index_add_(0, dst, torch.ones_like(dst, dtype=x.dtype))
        mean = agg / deg.clamp(min=1.0).unsqueeze(1)
        mx = torch.full_like(x, -1e9).scatter_reduce(0, dst.unsqueeze(1).expand(-1, 4), msg, reduce="amax",
                                                     include_self=True)
        top = torch.gather(mean, 1, mean.argsort(1, descending=True)[:, :2])
        return mean, mx, top, torch.bincount(dst, minlength=5)


@case("gnn_scatter_gather", lambda: [rnd(5, 4), torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 0, 2]])])
def _():
    torch.manual_seed(0)
    return GraphConv().eval()


class MoE(nn.Module):
    def __init__(self, experts: int = 4, k: int = 2):
        super().__init__()
        self.gate = nn.Linear(6, experts)
        self.experts = nn.ModuleList([nn.Linear(6, 6) for _ in range(experts)])
        self.k = k

    def forward(self, x):
        logits = self.gate(x)
        weights, idx = torch.topk(logits.softmax(-1), self.k, dim=-1)
        weights = weights / weights.sum(-1, keepdim=True)
        out = torch.zeros_like(x)
        for i, expert in enumerate(self.experts):
            rows, slot = torch.where(idx == i)
            if rows.numel() > 0:
                out.index_add_(0, rows, expert(x[rows]) * weights[rows, slot].unsqueeze(-1))
        return out


@case("mixture_of_experts_topk", lambda: [rnd(7, 6)], trace=False)
def _():
    torch.manual_seed(0)
    return MoE().eval()


class TextCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(30, 8)
        self.convs = nn.ModuleList([nn.Conv1d(8, 4, k) for k in (2, 3, 4)])
        self.fc = nn.Linear(12, 2)

    def forward(self, x):
        e = self.emb(x).transpose(1, 2)
        pooled = [F.adaptive_max_pool1d(F.relu(conv(e)), 1).squeeze(-1) for conv in self.convs]
        return F.log_softmax(self.fc(torch.cat(pooled, 1)), dim=1)


@case("text_cnn_conv1d", lambda: [_tokens(2, 9, 30)])
def _():
    torch.manual_seed(0)
    return TextCNN().eval()


# -- norms and pooling -------------------------------------------------------------------------


class Norms(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm([4, 4])
        self.ln_noaffine = nn.LayerNorm(4, elementwise_affine=False)
        self.gn = nn.GroupNorm(2, 8)
        self.inn = nn.InstanceNorm2d(8)
        self.inn_affine = nn.InstanceNorm2d(8, affine=True, track_running_stats=True)
        self.bn1d = nn.BatchNorm1d(8)
        self.ln_nobias = nn.LayerNorm(4, bias=False)

    def forward(self, x):
        a = self.ln(x)
        b = self.ln_noaffine(x)
        c = self.gn(x)
        d = self.inn(x)
        e = self.inn_affine(x)
        f = self.bn1d(x.flatten(2).mean(-1))
        g = F.layer_norm(x, [4], eps=1e-3) + F.group_norm(x, 4) + F.normalize(x, dim=1) + self.ln_nobias(x)
        h = F.local_response_norm(x, 3)
        return a, b, c, d, e, f, g, h


@case("norm_variants", img(8, 4, 4))
def _():
    torch.manual_seed(0)
    m = Norms()
    m.inn_affine.running_mean.fill_(0.1)
    return randomize_bn(m)


class Pools(nn.Module):
    def forward(self, x):
        mp, idx = F.max_pool2d(x, 2, return_indices=True)
        unpooled = F.max_unpool2d(mp, idx, 2, output_size=[x.size(2), x.size(3)])
        amax, aidx = F.adaptive_max_pool2d(x, (3, 2), return_indices=True)
        return (mp, idx, unpooled, amax, aidx, F.adaptive_avg_pool2d(x, (3, 5)),
                F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), F.lp_pool2d(x, 2.0, 2),
                F.max_pool2d(x, 3, 2, 1, dilation=1, ceil_mode=True), F.max_pool1d(x.flatten(2), 4, 3),
                F.avg_pool1d(x.flatten(2), 3))


@case("pooling_variants", img(3, 7, 7))
def _():
    return Pools()


class Pool3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool3d(2, return_indices=True)
        self.conv = nn.Conv3d(2, 2, 3, padding=1)

    def forward(self, x):
        y, i = self.pool(self.conv(x))
        return F.max_unpool3d(y, i, [2, 2, 2]), F.avg_pool3d(x, 2), F.adaptive_max_pool3d(x, 2)


@case("pool3d_unpool", lambda: [rnd(1, 2, 4, 4, 4)])
def _():
    torch.manual_seed(0)
    return Pool3d().eval()


# -- detection-style post-processing -----------------------------------------------------------


class NMS(nn.Module):
    def __init__(self, iou_threshold: float = 0.5):
        super().__init__()
        self.iou_threshold = iou_threshold

    def forward(self, boxes, scores) -> Tuple[torch.Tensor, List[int]]:
        order = scores.argsort(descending=True)
        keep: List[int] = []
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        while order.numel() > 0:
            i = int(order[0])
            keep.append(i)
            if order.numel() == 1:
                break
            rest = order[1:]
            xx1 = torch.maximum(boxes[i, 0], boxes[rest, 0])
            yy1 = torch.maximum(boxes[i, 1], boxes[rest, 1])
            xx2 = torch.minimum(boxes[i, 2], boxes[rest, 2])
            yy2 = torch.minimum(boxes[i, 3], boxes[rest, 3])
            inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
            iou = inter / (areas[i] + areas[rest] - inter)
            order = rest[iou <= self.iou_threshold]
        return boxes[torch.tensor(keep, dtype=torch.long)], keep


def _boxes():
    g = torch.Generator().manual_seed(3)
    xy = torch.rand(8, 2, generator=g) * 10
    wh = torch.rand(8, 2, generator=g) * 5 + 1
    return [torch.cat([xy, xy + wh], 1), torch.rand(8, generator=g)]


@case("nms_while_loop", _boxes, trace=False)
def _():
    return NMS()


class AnchorDecoder(nn.Module):
    def forward(self, deltas, feat_h: int, feat_w: int, stride: float):
        ys = torch.arange(feat_h, dtype=torch.float32) * stride
        xs = torch.arange(feat_w, dtype=torch.float32) * stride
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        centers = torch.stack([gx.reshape(-1), gy.reshape(-1)], -1)
        wh = torch.full_like(centers, stride * 2)
        pred_c = centers + deltas[:, :2] * wh
        pred_wh = wh * torch.exp(deltas[:, 2:].clamp(max=math.log(1000.0 / 16)))
        boxes = torch.cat([pred_c - 0.5 * pred_wh, pred_c + 0.5 * pred_wh], -1)
        return boxes.clamp(min=0.0, max=float(feat_w) * stride)


@case("anchor_box_decode", lambda: [rnd(6, 4) * 0.3, 2, 3, 8.0], trace=False)
def _():
    return AnchorDecoder()


class SpatialTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.loc = nn.Sequential(nn.Flatten(), nn.Linear(2 * 6 * 6, 6))
        with torch.no_grad():
            self.loc[1].weight.mul_(0.01)
            self.loc[1].bias.copy_(torch.tensor([1.0, 0, 0, 0, 1, 0]))

    def forward(self, x):
        theta = self.loc(x).view(-1, 2, 3)
        grid = F.affine_grid(theta, list(x.size()), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@case("spatial_transformer_grid_sample", img(2, 6, 6))
def _():
    torch.manual_seed(0)
    return SpatialTransformer().eval()


class Losses(nn.Module):
    def forward(self, logits, target):
        logp = F.log_softmax(logits, -1)
        ce = F.nll_loss(logp, target)
        oh = F.one_hot(target, logits.size(-1)).to(logits.dtype)
        p = logp.exp()
        focal = -(oh * (1 - p) ** 2 * logp).sum(-1).mean()
        smooth = F.cross_entropy(logits, target, label_smoothing=0.1)
        return ce, focal, smooth, F.kl_div(logp, oh * 0.9 + 0.025, reduction="batchmean"), F.smooth_l1_loss(p, oh)


@case("loss_functions", lambda: [rnd(5, 5), torch.tensor([0, 3, 4, 1, 1])])
def _():
    return Losses()


# -- language features -------------------------------------------------------------------------


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.labels = ["cat", "dog", "bird"]
        self.version = 3

    def forward(self, x):
        return self.fc(x)

    @torch.jit.export
    def describe(self) -> str:
        return f"Classifier v{self.version} with {len(self.labels)} labels: " + ", ".join(self.labels)

    @torch.jit.export
    def num_classes(self) -> int:
        return len(self.labels)

    @torch.jit.export
    def config(self) -> Dict[str, int]:
        return {"in": self.fc.in_features, "out": self.fc.out_features, "version": self.version}

    @torch.jit.export
    def predict_labels(self, x: torch.Tensor, top: int = 2) -> List[List[str]]:
        idx = self.fc(x).topk(top, -1).indices
        out: List[List[str]] = []
        rows: List[List[int]] = idx.tolist()
        for row in rows:
            out.append([self.labels[i].upper() for i in row])
        return out


@case("exported_utility_methods", lambda: [rnd(2, 4)],
      calls=lambda: [("describe", []), ("num_classes", []), ("config", []), ("predict_labels", [rnd(3, 4)]),
                     ("predict_labels", [rnd(1, 4), 3])])
def _():
    torch.manual_seed(0)
    return Classifier().eval()


class Tokenizer(nn.Module):
    def __init__(self):
        super().__init__()
        self.vocab: Dict[str, int] = {"<unk>": 0, "the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5}
        self.emb = nn.Embedding(6, 3)

    def forward(self, text: str, max_len: int = 8) -> Tuple[torch.Tensor, List[int], str]:
        words = text.lower().strip().split()
        ids = [self.vocab.get(w.strip(".,!"), 0) for w in words][:max_len]
        while len(ids) < max_len:
            ids.append(0)
        t = torch.tensor(ids, dtype=torch.long)
        return self.emb(t).sum(0), ids, " ".join(words).replace("cat", "dog")


@case("string_tokenizer", lambda: ["The cat sat on the Mat.!"], trace=False,
      inputs_list=lambda: [["The cat sat on the Mat.!"], ["  hello   world ", 3], ["cat " * 10, 4]])
def _():
    torch.manual_seed(0)
    return Tokenizer()


class OptionalInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x, mask: Optional[torch.Tensor] = None, scale: Optional[float] = None,
                bias: Optional[int] = None) -> Tuple[torch.Tensor, Optional[torch.Tensor], int]:
        y = self.fc(x)
        if mask is not None:
            y = y.masked_fill(~mask, 0.0)
        if scale is not None:
            y = y * scale
        count = 0 if bias is None else bias + 1
        extra: Optional[torch.Tensor] = None
        if mask is not None and scale is None:
            extra = mask.sum(-1)
        return y, extra, count


@case("optional_inputs_tuple_outputs", lambda: [rnd(2, 4)], trace=False,
      inputs_list=lambda: [[rnd(2, 4)], [rnd(2, 4), rnd(2, 4, seed=5) > 0], [rnd(2, 4), None, 2.5, 3],
                           [rnd(2, 4), rnd(2, 4, seed=6) > 0, 0.5, None]])
def _():
    torch.manual_seed(0)
    return OptionalInputs().eval()


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = nn.Linear(4, 4)
        self.neg = nn.Linear(4, 4)

    def forward(self, x) -> Dict[str, torch.Tensor]:
        if x.sum() > 0:
            y = self.pos(x)
        else:
            y = -self.neg(x)
        n = 0
        while y.abs().max() > 1.0 and n < 10:
            y = y / 2
            n += 1
        out: Dict[str, torch.Tensor] = {"y": y, "steps": torch.tensor(n)}
        if bool(torch.any(torch.isnan(y))):
            raise ValueError("nan")
        if x.dim() == 3:
            out["first"] = x[0]
        return out


@case("tensor_value_control_flow", lambda: [rnd(2, 4) * 5], trace=False,
      inputs_list=lambda: [[rnd(2, 4) * 5], [-rnd(2, 4).abs() * 9], [rnd(3, 2, 4, seed=8)], [rnd(2, 4, seed=9) * 0.01]])
def _():
    torch.manual_seed(0)
    return DataDependent().eval()


class DtypeCasts(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x, ids):
        h = x.half()
        bf = x.to(torch.bfloat16)
        a = (h * 2 + 1).float()
        b = (bf.exp() - 1).to(torch.float32)
        i = x.mul(100).long()
        j = (i // 7) + (i % 7) * ids.sum() - torch.floor_divide(i, 3)
        k = (j & 0xFF) | (ids.max() << 2)
        c = torch.where(i > 0, i, torch.zeros_like(i)).double().sum(dtype=torch.float64)
        d = self.fc(x).to(dtype=torch.float16, copy=True).float()
        bools = (x > 0).int().cumsum(-1).to(torch.uint8)
        return a, b, j, k, c, d, bools, x.type_as(ids), ids.float().mean(), torch.arange(5, dtype=torch.int32) * 3


@case("dtype_casts_half_bf16_int64", lambda: [rnd(3, 4), torch.tensor([1, 2, 3])], atol=1e-3, rtol=1e-3)
def _():
    torch.manual_seed(0)
    return DtypeCasts().eval()


class TensorOps(nn.Module):
    def forward(self, x):
        s, i = x.sort(-1, descending=True)
        cs = x.cumsum(0)
        cp = torch.cumprod(x.clamp(0.5, 1.5), 1)
        u, inv = torch.unique(x.round(), sorted=True, return_inverse=True)
        pad = F.pad(x, (1, 2), mode="constant", value=-1.0)
        rpad = F.pad(x.unsqueeze(0), (1, 1), mode="reflect")
        rolled = torch.roll(x, 1, 0).flip(1)
        e = torch.einsum("ij,kj->ik", x, x)
        nz = torch.nonzero(x > 0)
        return s, i, cs, cp, u, inv, pad, rpad, rolled, e, nz, x.norm(dim=1), torch.linalg.vector_norm(x, 3.0)


@case("tensor_ops_sort_unique_pad_einsum", lambda: [rnd(4, 5)])
def _():
    return TensorOps()


class DictListState(nn.Module):
    """A running-statistics tracker: a dict of lists mutated in a method and read back."""

    history: Dict[str, List[float]]

    def __init__(self):
        super().__init__()
        self.history = {}

    def forward(self, name: str, x) -> Dict[str, float]:
        if name not in self.history:
            self.history[name] = torch.jit.annotate(List[float], [])
        self.history[name].append(float(x.mean()))
        out: Dict[str, float] = {}
        for k, v in self.history.items():
            out[k] = sum(v) / len(v)
        return out


@case("dict_list_state_tracker", lambda: ["a", rnd(3)], trace=False,
      inputs_list=lambda: [["a", rnd(3)], ["b", rnd(3, seed=3)], ["a", rnd(3, seed=4)]])
def _():
    return DictListState()


class TemporalConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(3, 6, 3, dilation=2, padding=2, groups=3)
        self.gn = nn.GroupNorm(3, 6)
        self.c2 = nn.Conv1d(6, 3, 1)
        self.prelu = nn.PReLU(6)

    def forward(self, x):
        y = self.prelu(self.gn(self.c1(x)))
        y = F.gelu(self.c2(y))
        return x + F.dropout(y, 0.5, self.training), F.elu(y), F.leaky_relu(y, 0.2), F.hardswish(y), F.mish(y)


@case("temporal_conv_prelu_activations", lambda: [rnd(2, 3, 10)])
def _():
    torch.manual_seed(0)
    return TemporalConvNet().eval()


class Bahdanau(nn.Module):
    def __init__(self):
        super().__init__()
        self.W = nn.Linear(6, 6, bias=False)
        self.U = nn.Linear(6, 6)
        self.v = nn.Parameter(torch.randn(6))

    def forward(self, query, keys, lengths):
        scores = torch.tanh(self.W(query).unsqueeze(1) + self.U(keys)) @ self.v
        mask = torch.arange(keys.size(1)).unsqueeze(0) >= lengths.unsqueeze(1)
        scores = scores.masked_fill(mask, -1e9)
        attn = F.softmax(scores, dim=1)
        return torch.bmm(attn.unsqueeze(1), keys).squeeze(1), attn


@case("bahdanau_attention_lengths", lambda: [rnd(2, 6), rnd(2, 5, 6, seed=3), torch.tensor([3, 5])])
def _():
    torch.manual_seed(0)
    return Bahdanau().eval()


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(8, 8)
        self.dec = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid())

    def forward(self, x, eps):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + eps * torch.exp(0.5 * logvar)
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return self.dec(z), kld, F.binary_cross_entropy(self.dec(mu), x.sigmoid(), reduction="sum")


@case("vae_reparameterize", lambda: [rnd(3, 8), rnd(3, 4, seed=3)])
def _():
    torch.manual_seed(0)
    return VAE().eval()


# -- more language and op coverage -------------------------------------------------------------


# (functional form: this file's `from __future__ import annotations` would make the class form's fields strings)
Detections = NamedTuple("Detections", [("boxes", torch.Tensor), ("scores", torch.Tensor), ("labels", List[str])])


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 6, 1)
        self.names = ["bg", "person", "car"]

    def forward(self, x, threshold: float = 0.0) -> Detections:
        out = self.head(x).flatten(2).transpose(1, 2)[0]  # (HW, 6)
        boxes, logits = out[:, :4], out[:, 4:]
        scores, cls = logits.softmax(-1).max(-1)
        keep = scores > threshold
        labels = [self.names[int(c) + 1] for c in cls[keep]]
        return Detections(boxes[keep], scores[keep], labels)

    @torch.jit.export
    def summary(self, x) -> str:
        d = self.forward(x, 0.55)
        parts: List[str] = []
        for i in range(len(d.labels)):
            parts.append(f"{d.labels[i]}:{float(d.scores[i]):.3f}")
        return "{} detections [{}]".format(len(d.labels), "; ".join(parts)) + " max=%.2f" % float(d.scores.max())


@case("namedtuple_detections_string_format", img(3, 3, 3, 1), trace=False,
      calls=lambda: [("summary", img(3, 3, 3, 1)())])
def _():
    return Detector().eval()


class Inception(nn.Module):
    def __init__(self):
        super().__init__()
        self.b1 = nn.Conv2d(4, 2, 1)
        self.b2 = nn.Sequential(nn.Conv2d(4, 2, 1), nn.Conv2d(2, 2, 3, padding="same"))
        self.b3 = nn.Sequential(nn.Conv2d(4, 2, 1), nn.Conv2d(2, 2, 5, padding=2, padding_mode="reflect"))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(4, 2, 1, padding_mode="circular"))

    def forward(self, x):
        f2 = torch.jit.fork(self.b2, x)
        f3 = torch.jit.fork(self.b3, x)
        return torch.cat([self.b1(x), torch.jit.wait(f2), torch.jit.wait(f3), self.b4(x)], 1)


@case("inception_fork_wait_padding_modes", img(4, 6, 6))
def _():
    return Inception().eval()


class Spectrogram(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hann_window(16))
        self.mel = nn.Linear(9, 4, bias=False)

    def forward(self, wav):
        spec = torch.stft(wav, 16, hop_length=4, window=self.window, return_complex=True)
        power = spec.abs().pow(2.0)
        mel = self.mel(power.transpose(-1, -2))
        fft = torch.fft.rfft(wav, dim=-1)
        return torch.log(mel + 1e-6), torch.view_as_real(fft), fft.angle(), torch.fft.irfft(fft, n=wav.size(-1))


@case("spectrogram_stft_fft_complex", lambda: [rnd(2, 64)], atol=1e-4, rtol=1e-4)
def _():
    return Spectrogram().eval()


class FeatureBuckets(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("boundaries", torch.tensor([-1.0, 0.0, 0.5, 1.0]))
        self.emb = nn.Embedding(5, 3)

    def forward(self, x) -> Tuple[torch.Tensor, Dict[int, List[float]], torch.Tensor, torch.Tensor]:
        b = torch.bucketize(x, self.boundaries)
        groups: Dict[int, List[float]] = {}
        xs: List[float] = x.tolist()
        bs: List[int] = b.tolist()
        for v, k in zip(xs, bs):
            if k not in groups:
                groups[k] = torch.jit.annotate(List[float], [])
            groups[k].append(v)
        q = torch.quantile(x, torch.tensor([0.25, 0.5, 0.75]))
        pos = torch.searchsorted(self.boundaries, x.sort().values)
        return self.emb(b).sum(0), groups, q, pos + torch.histc(x, 4, -2.0, 2.0).long().sum()


@case("feature_bucketize_quantile_dict_groups", lambda: [rnd(9)], trace=False)
def _():
    return FeatureBuckets()


class PatchOps(nn.Module):
    def forward(self, x):
        patches = F.unfold(x, kernel_size=2, stride=2)  # (N, C*4, L)
        back = F.fold(patches * 2, output_size=(x.size(2), x.size(3)), kernel_size=2, stride=2)
        parts = torch.split(x, [1, 2], dim=1)
        chunks = x.chunk(2, dim=-1)
        rows = x.unbind(2)
        return back, parts[1], chunks[0] + chunks[1], torch.stack(rows, -1), x.new_zeros(2, 3), torch.linspace(0, 1, 5)


@case("unfold_fold_split_chunk_unbind", img(3, 4, 4))
def _():
    return PatchOps()


class MaskedUpdates(nn.Module):
    def forward(self, x, idx):
        y = x.clone()
        y[y < 0] = 0.0
        y[:, idx] += 1.0
        z = torch.zeros(4, 5)
        z.index_put_((torch.tensor([0, 2]), torch.tensor([1, 3])), torch.tensor([5.0, 6.0]), accumulate=True)
        w = x.masked_scatter(x > 0.5, torch.arange(20.0).view(4, 5))
        return y, z, w, x.masked_select(x > 0)


@case("masked_index_put_updates", lambda: [rnd(4, 5), torch.tensor([0, 2])])
def _():
    return MaskedUpdates()


class PackedLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4, batch_first=True)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h, c) = self.lstm(packed)
        padded, lens = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        return padded, lens, h


@case("lstm_pack_padded_sequence", lambda: [rnd(3, 5, 3), torch.tensor([5, 2, 4])], trace=False)
def _():
    return PackedLSTM().eval()


class ScriptLang(nn.Module):
    scale: Final[float]

    def __init__(self):
        super().__init__()
        self.scale = 0.5
        self.fc = nn.Linear(3, 3)

    def forward(self, x, words: List[str]) -> Tuple[List[Tuple[str, int]], List[float], torch.Tensor, str, int]:
        counts: Dict[str, int] = {}
        for w in words:
            counts[w] = counts.get(w, 0) + 1
        pairs = sorted(counts.items())
        flat: List[float] = x.flatten().tolist()
        vals = [float(v) * self.scale for v in flat]
        vals.sort()
        with torch.no_grad():
            y = self.fc(x)
        if not torch.jit.is_scripting():  # eager and script agree only where this branch is a no-op
            y = y + 0
        q, r = divmod(len(words) * 7, 3)
        text = str(round(3.14159, 2)) + "|" + str(max(vals)) + "|" + "-".join([w.capitalize() for w in words[:2]])
        return pairs, vals[:3], y, text, q * 10 + r + min([len(w) for w in words]) + abs(-2) + int(math.floor(2.7))


@case("script_language_builtins", lambda: [rnd(2, 3), ["b", "a", "b", "cc"]], trace=False)
def _():
    return ScriptLang().eval()


class EmbeddingMaxNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(6, 4, max_norm=1.0)
        self.emb2 = nn.Embedding(6, 4, padding_idx=1, scale_grad_by_freq=True)

    def forward(self, ids):
        return self.emb(ids), self.emb2(ids), F.embedding(ids, self.emb2.weight, max_norm=0.5, norm_type=1.0)


# not traced: tracing runs the model, and max_norm renormalizes the weights in place
@case("embedding_max_norm_renorm", lambda: [torch.tensor([[0, 1, 5], [5, 3, 1]])], trace=False)
def _():
    torch.manual_seed(0)
    return EmbeddingMaxNorm()


class BF16MLP(nn.Module):
    """Weights in bfloat16 and float16, activations cast at the boundaries; integer outputs."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8).to(torch.bfloat16)
        self.fc2 = nn.Linear(8, 3).to(torch.float64)
        self.conv = nn.Conv1d(2, 2, 3).to(torch.float64)

    def forward(self, x):
        h = F.gelu(self.fc1(x.to(torch.bfloat16)))
        y = self.fc2(h.double())
        c = self.conv(x.view(x.size(0), 2, 2).double().repeat(1, 1, 2))
        return y, y.argmax(-1).to(torch.int32), h.float().sum(-1), c, (y > 0).sum(dtype=torch.int64).item()


@case("bf16_float64_weights", lambda: [rnd(3, 4)], atol=1e-2, rtol=1e-2)
def _():
    return BF16MLP().eval()


# -- Python TorchScript refuses (config dataclasses, decorators, match, nested def...) ----------


@dataclass
class EncoderConfig:
    hidden: int = 32
    heads: int = 4
    layers: int = 2
    eps: float = 1e-6
    act: str = "gelu"


class HFStyleAttention(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.head_size = cfg.hidden // cfg.heads
        self.qkv = nn.Linear(cfg.hidden, 3 * cfg.hidden)
        self.out = nn.Linear(cfg.hidden, cfg.hidden)

    def forward(self, x, mask: Optional[torch.Tensor] = None):
        def heads(t):
            return t.view(t.size()[:-1] + (self.cfg.heads, self.head_size)).transpose(1, 2)

        q, k, v = map(heads, self.qkv(x).chunk(3, dim=-1))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size)
        if mask is not None:
            scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
        ctx = scores.softmax(-1) @ v
        return self.out(ctx.transpose(1, 2).reshape(x.shape))


def drop_path(x, p: float = 0.0, training: bool = False):
    if p == 0.0 or not training:
        return x
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    return x * x.new_empty(shape).bernoulli_(1 - p) / (1 - p)


class HFStyleEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.cfg = EncoderConfig()
        self.attn = nn.ModuleList([HFStyleAttention(self.cfg) for _ in range(self.cfg.layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(self.cfg.hidden, eps=self.cfg.eps) for _ in range(self.cfg.layers)])

    @torch.no_grad()
    def forward(self, x, mask: Optional[torch.Tensor] = None, keep: str = "last"):
        states: List[torch.Tensor] = []
        for i in range(self.cfg.layers):
            x = self.norms[i](x + drop_path(self.attn[i](x, mask), 0.1, self.training))
            states.append(x)
        match keep:
            case "last":
                return x
            case "mean" | "avg":
                return torch.stack(states).mean(0)
            case _:
                first, *rest = states
                return first + sum(rest)


def _encoder_inputs():
    x = rnd(2, 5, 32)
    mask = torch.zeros(2, 1, 5, 5, dtype=torch.bool)
    mask[:, :, :, -1] = True
    return [x, mask, "last"]


@case("hf_style_encoder", _encoder_inputs, trace=False,
      inputs_list=lambda: [_encoder_inputs(), _encoder_inputs()[:2] + ["mean"], _encoder_inputs()[:2] + ["all"], [rnd(2, 5, 32)]])
def hf_style_encoder():
    return HFStyleEncoder().eval()


# -- harness -----------------------------------------------------------------------------------


def close(got: Any, want: Any, atol: float, rtol: float, where: str = "result") -> Optional[str]:
    """None when `got` matches eager's `want` (types, dtypes, shapes; floats within tolerance), else why not."""
    if isinstance(want, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"{where}: {type(got).__name__}, expected Tensor"
        if got.dtype != want.dtype or got.shape != want.shape:
            return f"{where}: {got.dtype}{list(got.shape)}, expected {want.dtype}{list(want.shape)}"
        g, w = got.detach(), want.detach()
        if w.is_floating_point() or w.is_complex():
            tol = (atol, rtol) if w.dtype in (torch.float32, torch.float64, torch.complex64) else (1e-2, 1e-2)
            if not torch.allclose(g.double(), w.double(), atol=tol[0], rtol=tol[1], equal_nan=True):
                return f"{where}: max abs diff {(g.double() - w.double()).abs().max().item():.3g}"
        elif not torch.equal(g, w):
            return f"{where}: values differ: {g} vs {w}"
        return None
    if isinstance(want, tuple) and hasattr(want, "_fields"):
        want = tuple(want)
        got = tuple(got) if isinstance(got, tuple) else got
    if type(got) is not type(want):
        return f"{where}: {type(got).__name__}, expected {type(want).__name__}"
    if isinstance(want, (list, tuple)):
        if len(got) != len(want):
            return f"{where}: length {len(got)}, expected {len(want)}"
        for i, (a, b) in enumerate(zip(got, want)):
            why = close(a, b, atol, rtol, f"{where}[{i}]")
            if why:
                return why
        return None
    if isinstance(want, dict):
        if list(got) != list(want):
            return f"{where}: keys {list(got)}, expected {list(want)}"
        for k in want:
            why = close(got[k], want[k], atol, rtol, f"{where}[{k!r}]")
            if why:
                return why
        return None
    if isinstance(want, float):
        return None if math.isclose(got, want, rel_tol=rtol, abs_tol=atol) else f"{where}: {got} vs {want}"
    return None if got == want else f"{where}: {got!r} vs {want!r}"


def all_calls(c: Case, mode: str) -> List[Tuple[str, Sequence[Any]]]:
    if mode == "trace":
        return [("forward", c.inputs())]
    fwd = c.inputs_list() if c.inputs_list else [c.inputs()]
    return [("forward", args) for args in fwd] + list(c.calls())


def make(c: Case) -> nn.Module:
    torch.manual_seed(0)
    return c.make()


def eager_results(c: Case, calls: List[Tuple[str, Sequence[Any]]]) -> List[Any]:
    model = make(c)
    with torch.no_grad():
        return [getattr(model, m)(*args) for m, args in calls]


def sweep(c: Case, mode: str, server: cpp_runtime.Server, tmp: str) -> List[str]:
    """Every way of running the case; the list of what went wrong (empty: all agree with eager)."""
    failures: List[str] = []
    calls = all_calls(c, mode)
    want = eager_results(c, calls)
    model = make(c)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = torchkiln.script(model) if mode == "script" else torchkiln.trace(model, tuple(calls[0][1]))
    except Exception as e:  # noqa: BLE001
        try:
            torch.jit.script(make(c)) if mode == "script" else torch.jit.trace(make(c), tuple(calls[0][1]))
            jit = "torch.jit accepts it"
        except Exception:  # noqa: BLE001
            jit = "torch.jit refuses it too"
        return [f"{mode}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} ({jit})"]
    path = f"{tmp}/{c.name}.{mode}.pt"
    torchkiln.save(compiled, path)
    for executor in EXECUTORS:
        loaded = torchkiln.load(path).with_executor(executor)
        for (method, args), w in zip(calls, want):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", CppFallbackWarning)
                    with torch.no_grad():
                        got = getattr(loaded, method)(*args)
            except Exception as e:  # noqa: BLE001
                failures.append(f"{executor} {method}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
                continue
            why = close(got, w, c.atol, c.rtol)
            if why:
                failures.append(f"{executor} {method}: {why}")
    try:
        results = server.run_calls(path, [cpp_runtime.Call(m, args, grad_enabled=False) for m, args in calls])
    except cpp_runtime.ServerError as e:
        failures.append(f"torchkiln-run: {str(e).splitlines()[0]}")
        return failures
    for (method, _), r, w in zip(calls, results, want):
        if not r.ok:
            failures.append(f"torchkiln-run {method}: {r.error_type or 'unwritable'}: "
                            f"{(r.message or r.unwritable or '').splitlines()[0]}")
            continue
        why = close(r.value, w, c.atol, c.rtol)
        if why:
            failures.append(f"torchkiln-run {method}: {why}")
    return failures


# (case name, mode) -> why it cannot pass yet
XFAIL: Dict[Tuple[str, str], str] = {}

PARAMS = []
for _c in CASES:
    for _m in ("script", "trace") if _c.trace else ("script",):
        marks = [pytest.mark.xfail(reason=XFAIL[(_c.name, _m)], strict=True)] if (_c.name, _m) in XFAIL else []
        PARAMS.append(pytest.param(_c, _m, id=f"{_c.name}-{_m}", marks=marks))


@pytest.fixture(scope="module")
def server(rt):
    with cpp_runtime.Server(rt) as s:
        yield s


def test_sweep_has_enough_models():
    assert len(CASES) >= 40


@pytest.mark.parametrize("c,mode", PARAMS)
def test_model(c: Case, mode: str, server, tmp_path):
    failures = sweep(c, mode, server, str(tmp_path))
    assert not failures, "\n".join(failures)
