"""Python builtins written in script-compilable Python, compiled on demand.

Builtins with loops (or other control flow) are easier to state as source
than as IR; `builtins.py` calls these through the normal function path.
"""
from __future__ import annotations

import math
from typing import List

from torch import Tensor


def sum_tensors(xs: List[Tensor], start: int = 0) -> Tensor:
    """`sum(xs, start)` for a list of tensors (an empty list raises: the result must be a Tensor)."""
    if len(xs) == 0:
        raise ValueError("sum() of an empty list of tensors has no Tensor result in script")
    total = xs[0] + start
    for i in range(1, len(xs)):
        total = total + xs[i]
    return total


def list_with_default(out_size: List[int], defaults: List[int]) -> List[int]:
    """`torch.nn.modules.utils._list_with_default` where sizes are ints (script's `List[int]`)."""
    if len(defaults) <= len(out_size):
        raise ValueError("Input dimension should be at least " + str(len(out_size) + 1))
    return out_size


def prod_int(xs: List[int], start: int = 1) -> int:
    """`math.prod(xs, start=start)` for ints (left to right, as Python multiplies)."""
    acc = start
    for x in xs:
        acc = acc * x
    return acc


def prod_float(xs: List[float], start: float = 1.0) -> float:
    """`math.prod` of floats, or of ints from a float start."""
    acc = start
    for x in xs:
        acc = acc * x
    return acc


def prod_ints_from_float(xs: List[int], start: float) -> float:
    acc = start
    for x in xs:
        acc = acc * x
    return acc


def sort_objects(xs, reverse: bool):
    """`xs.sort()` of script-class objects: compares with `<` only (the class's `__lt__`), as
    Python's sort does, and is stable; `reverse` keeps equal items in their order, as Python's.
    An insertion sort: lists of objects are short."""
    for i in range(1, len(xs)):
        x = xs[i]
        j = i
        while j > 0 and ((xs[j - 1] < x) if reverse else (x < xs[j - 1])):
            xs[j] = xs[j - 1]
            j -= 1
        xs[j] = x


def max2(a, b):
    """`max(a, b)` of numbers of unknown kind (`x.item()`): the first largest, as Python's."""
    return b if b > a else a


def min2(a, b):
    """`min(a, b)` of numbers of unknown kind: the first smallest, as Python's."""
    return b if b < a else a


def min_or_default(xs, default):
    """`min(xs, default=d)` (a list)."""
    if len(xs) == 0:
        return default
    return min(xs)


def max_or_default(xs, default):
    """`max(xs, default=d)` (a list)."""
    if len(xs) == 0:
        return default
    return max(xs)


def pow_mod(base: int, exp: int, mod: int) -> int:
    """`pow(base, exp, mod)` of ints, with Python's results and errors (a negative exponent is
    the modular inverse's power)."""
    if mod == 0:
        raise ValueError("pow() 3rd argument cannot be 0")
    m = abs(mod)
    b = base % m
    if exp < 0:
        # the inverse of b modulo m by the extended Euclidean algorithm
        r0, r1, s0, s1 = m, b, 0, 1
        while r1 != 0:
            q = r0 // r1
            r0, r1 = r1, r0 - q * r1
            s0, s1 = s1, s0 - q * s1
        if r0 != 1:
            raise ValueError("base is not invertible for the given modulus")
        b = s0 % m
        exp = -exp
    result = 1 % m
    while exp > 0:
        if exp % 2 == 1:
            result = result * b % m
        b = b * b % m
        exp = exp // 2
    if mod < 0 and result != 0:
        result = result + mod
    return result


def zip_strict_check(lengths: List[int]) -> None:
    """`zip(..., strict=True)`'s check, with Python's messages (Note [zip strict] in loops.py).

    Python finds the mismatch when the shortest argument runs out: if the first argument
    ran out, the first one after it with items left is "longer"; otherwise the first one
    that ran out is "shorter".
    """
    n = min(lengths)
    first_ran_out = lengths[0] == n
    for i in range(1, len(lengths)):
        before = "argument 1" if i == 1 else f"arguments 1-{i}"
        if first_ran_out and lengths[i] != n:
            raise ValueError(f"zip() argument {i + 1} is longer than {before}")
        if not first_ran_out and lengths[i] == n:
            raise ValueError(f"zip() argument {i + 1} is shorter than {before}")


# -- int / float / str methods ---------------------------------------------------------------------------


def float_is_integer(v: float) -> bool:
    """`v.is_integer()`: finite and integral (fmod, so 1e300 does not overflow an int)."""
    if math.isinf(v) or math.isnan(v):
        return False
    return math.fmod(v, 1.0) == 0.0


def int_bit_length(n: int) -> int:
    """`n.bit_length()`: the bits of abs(n), without a sign (abs of -2**63 would overflow)."""
    if n < 0:
        if n == -9223372036854775807 - 1:
            return 64
        n = -n
    k = 0
    while n > 0:
        n = n >> 1
        k += 1
    return k


def str_removeprefix(s: str, prefix: str) -> str:
    if len(prefix) > 0 and s.startswith(prefix):
        return s[len(prefix):]
    return s


def str_removesuffix(s: str, suffix: str) -> str:
    if len(suffix) > 0 and s.endswith(suffix):
        return s[: len(s) - len(suffix)]
    return s


def str_repr(s: str) -> str:
    """repr() of a str as Python writes it, for printable text (quotes, backslashes, \\n, \\r, \\t escaped)."""
    quote = "'"
    if "'" in s and '"' not in s:
        quote = '"'
    out = quote
    for c in s:
        if c == quote or c == "\\":
            out += "\\" + c
        elif c == "\n":
            out += "\\n"
        elif c == "\r":
            out += "\\r"
        elif c == "\t":
            out += "\\t"
        else:
            out += c
    return out + quote


def _digit_value(c: str) -> int:
    o = ord(c)
    if o >= 48 and o <= 57:
        return o - 48
    if o >= 97 and o <= 122:
        return o - 87
    if o >= 65 and o <= 90:
        return o - 55
    return 99


def int_from_str(s: str, base: int) -> int:
    """`int(s, base)` with Python's rules: sign, surrounding whitespace, `_` between digits, 0x/0o/0b prefixes."""
    if base != 0 and (base < 2 or base > 36):
        raise ValueError("int() base must be >= 2 and <= 36, or 0")
    t = s.strip()
    i = 0
    neg = False
    if len(t) > 0 and (t[0] == "+" or t[0] == "-"):
        neg = t[0] == "-"
        i = 1
    b = base
    prefixed = False
    if len(t) - i >= 2 and t[i] == "0":
        c = t[i + 1].lower()
        pb = 0
        if c == "x":
            pb = 16
        elif c == "o":
            pb = 8
        elif c == "b":
            pb = 2
        if pb != 0 and (base == 0 or base == pb):
            b = pb
            i += 2
            prefixed = True
    base0_decimal = b == 0
    if b == 0:
        b = 10
    ok = i < len(t)
    value = 0
    nonzero = False
    prev_underscore = False
    for j in range(i, len(t)):
        c = t[j]
        if c == "_":  # only between digits, or right after a prefix (`0x_1f`)
            if prev_underscore or (j == i and not prefixed):
                ok = False
                break
            prev_underscore = True
            continue
        d = _digit_value(c)
        if d >= b:
            ok = False
            break
        if d != 0:
            nonzero = True
        value = value * b - d if neg else value * b + d
        prev_underscore = False
    if prev_underscore:
        ok = False
    if ok and base0_decimal and nonzero and t[i] == "0":
        ok = False  # int("010", 0): a nonzero decimal has no leading zeros
    if not ok:
        raise ValueError("invalid literal for int() with base " + str(base) + ": " + str_repr(s))
    return value


# -- math -------------------------------------------------------------------------------------------------


def math_isclose(a: float, b: float, rel_tol: float = 1e-09, abs_tol: float = 0.0) -> bool:
    """CPython's math_isclose_impl."""
    if rel_tol < 0.0 or abs_tol < 0.0:
        raise ValueError("tolerances must be non-negative")
    if a == b:
        return True
    if math.isinf(a) or math.isinf(b):
        return False
    diff = math.fabs(b - a)
    return diff <= math.fabs(rel_tol * b) or diff <= math.fabs(rel_tol * a) or diff <= abs_tol


def math_comb(n: int, k: int) -> int:
    if n < 0:
        raise ValueError("n must be a non-negative integer")
    if k < 0:
        raise ValueError("k must be a non-negative integer")
    if k > n:
        return 0
    if n - k < k:
        k = n - k
    result = 1
    for i in range(1, k + 1):
        g = math.gcd(result, i)  # result * (n - k + i) / i is exact; divide first so it stays small
        result = (result // g) * ((n - k + i) // (i // g))
    return result


def math_lcm2(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    r = a // math.gcd(a, b) * b
    return -r if r < 0 else r


def math_isqrt(n: int) -> int:
    if n < 0:
        raise ValueError("isqrt() argument must be nonnegative")
    if n == 0:
        return 0
    r = int(math.sqrt(float(n)))
    if r < 1:
        r = 1
    while r > n // r:  # r * r > n, without overflowing
        r -= 1
    while r + 1 <= n // (r + 1):
        r += 1
    return r


def _frexp_exponent(m: float) -> int:
    """frexp(m)[1] for a finite m > 0: m = f * 2**e with 0.5 <= f < 1 (halving and doubling are exact)."""
    e = 0
    while m >= 1.0:
        m = m * 0.5
        e += 1
    while m < 0.5:
        m = m * 2.0
        e -= 1
    return e


def _vector_norm(vec: List[float], max_: float, found_nan: bool) -> float:
    """CPython 3.11's vector_norm (math.hypot / math.dist): scaled, with compensated sums."""
    if math.isinf(max_):
        return max_
    if found_nan:
        return math.nan
    if max_ == 0.0 or len(vec) <= 1:
        return max_
    post = 1.0
    e = _frexp_exponent(max_)
    if e < -1023:  # subnormal: scaling by 2**-e would overflow, so normalize first (CPython recurses once)
        dbl_min = 2.2250738585072014e-308
        scaled: List[float] = []
        for x in vec:
            scaled.append(x / dbl_min)
        vec = scaled
        max_ = max_ / dbl_min
        post = dbl_min
        e = _frexp_exponent(max_)
    scale = 1.0
    for _ in range(e):
        scale = scale * 0.5
    for _ in range(-e):
        scale = scale * 2.0
    t27 = 134217729.0
    csum = 1.0
    frac1 = 0.0
    frac2 = 0.0
    frac3 = 0.0
    for x0 in vec:
        x = x0 * scale
        t = x * t27
        hi = t - (t - x)
        lo = x - hi
        x = hi * hi
        oldcsum = csum
        csum += x
        frac1 += (oldcsum - csum) + x
        x = 2.0 * hi * lo
        oldcsum = csum
        csum += x
        frac2 += (oldcsum - csum) + x
        frac3 += lo * lo
    h = math.sqrt(csum - 1.0 + (frac1 + frac2 + frac3))
    x = h
    t = x * t27
    hi = t - (t - x)
    lo = x - hi
    x = -hi * hi
    oldcsum = csum
    csum += x
    frac1 += (oldcsum - csum) + x
    x = -2.0 * hi * lo
    oldcsum = csum
    csum += x
    frac2 += (oldcsum - csum) + x
    x = -lo * lo
    oldcsum = csum
    csum += x
    frac3 += (oldcsum - csum) + x
    x = csum - 1.0 + (frac1 + frac2 + frac3)
    return post * ((h + x / (2.0 * h)) / scale)


def math_dist(p: List[float], q: List[float]) -> float:
    if len(p) != len(q):
        raise ValueError("both points must have the same number of dimensions")
    diffs: List[float] = []
    max_ = 0.0
    found_nan = False
    for i in range(len(p)):
        x = math.fabs(p[i] - q[i])
        diffs.append(x)
        if math.isnan(x):
            found_nan = True
        elif x > max_:
            max_ = x
    return _vector_norm(diffs, max_, found_nan)


def math_fsum(xs: List[float]) -> float:
    """CPython's math_fsum: Shewchuk's exact partials, with its half-even fix-up and nonfinite handling."""
    p: List[float] = []
    special_sum = 0.0
    inf_sum = 0.0
    for item in xs:
        x = item
        xsave = x
        i = 0
        for j in range(len(p)):
            y = p[j]
            if math.fabs(x) < math.fabs(y):
                tmp = x
                x = y
                y = tmp
            hi = x + y
            yr = hi - x
            lo = y - yr
            if lo != 0.0:
                p[i] = lo
                i += 1
            x = hi
        while len(p) > i:
            p.pop()
        if x != 0.0:
            if math.isinf(x) or math.isnan(x):
                if not (math.isinf(xsave) or math.isnan(xsave)):
                    raise OverflowError("intermediate overflow in fsum")
                if math.isinf(xsave):
                    inf_sum += xsave
                special_sum += xsave
                p.clear()
            else:
                p.append(x)
    if special_sum != 0.0 or math.isnan(special_sum):
        if math.isnan(inf_sum):
            raise ValueError("-inf + inf in fsum")
        return special_sum
    hi = 0.0
    n = len(p)
    if n > 0:
        n -= 1
        hi = p[n]
        lo = 0.0
        while n > 0:
            x = hi
            n -= 1
            y = p[n]
            hi = x + y
            yr = hi - x
            lo = y - yr
            if lo != 0.0:
                break
        if n > 0 and ((lo < 0.0 and p[n - 1] < 0.0) or (lo > 0.0 and p[n - 1] > 0.0)):
            y = lo * 2.0
            x = hi + y
            yr = x - hi
            if y == yr:
                hi = x
    return hi
