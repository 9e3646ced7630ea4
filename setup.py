"""Builds the optional extension `torchkiln._C` (the C++ runtime for Python).

pyproject.toml is the metadata source; this file only adds the extension:
the runtime sources listed in torchkiln/csrc/CMakeLists.txt (read from there,
so the two never disagree) plus torchkiln/csrc/python/*.cpp, compiled with
torch's `CppExtension` against the installed torch. Install without build
isolation so the build sees that torch:

    pip install --no-build-isolation -e ".[test]"

The extension is optional: when it cannot be built (no compiler, no
nlohmann-json, ...) the build prints a warning and the package installs
without it; torchkiln then runs programs on its generated-Python executor.
Objects go to build/ext (kept between builds, so rebuilds are incremental
with ninja); MAX_JOBS (default 2) bounds parallel compile jobs.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
CSRC = ROOT / "torchkiln" / "csrc"


def _runtime_sources() -> list:
    """The `add_library(torchkiln_runtime ...)` source list of CMakeLists.txt."""
    text = (CSRC / "CMakeLists.txt").read_text()
    m = re.search(r"add_library\(\s*torchkiln_runtime\s+STATIC\s+(.*?)\)", text, re.S)
    if m is None:
        raise RuntimeError("torchkiln/csrc/CMakeLists.txt: no add_library(torchkiln_runtime STATIC ...) source list")
    return [f"torchkiln/csrc/{s}" for s in m.group(1).split() if s.endswith(".cpp")]


def _sources_digest() -> str:
    """A digest of the C++ sources (torchkiln/csrc_digest.py, loaded by path: the package is not importable yet)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("torchkiln_csrc_digest", ROOT / "torchkiln" / "csrc_digest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.sources_digest(CSRC)


def _warn(message: str) -> None:
    bar = "*" * 78
    print(f"\n{bar}\nWARNING: {message}\n{bar}\n", file=sys.stderr, flush=True)


def _extension_setup() -> dict:
    """`ext_modules` and `cmdclass` for setup(); empty when torch is not importable."""
    if os.environ.get("TORCHKILN_NO_EXTENSION"):
        return {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except Exception as e:  # noqa: BLE001 - no torch at build time (build isolation): no extension
        _warn(f"torchkiln._C is not built: torch is not importable ({e}); install with --no-build-isolation")
        return {}

    os.environ.setdefault("MAX_JOBS", "2")
    sources = _runtime_sources() + sorted(str(p.relative_to(ROOT)) for p in (CSRC / "python").glob("*.cpp"))
    ext = CppExtension(
        "torchkiln._C",
        sources,
        include_dirs=[str(CSRC / "include"), str(CSRC / "src"), "/usr/include"],
        extra_compile_args=["-O2", "-Wno-unused-parameter", "-Wno-unused-variable"],
    )

    class OptionalBuildExtension(BuildExtension):
        """Builds in build/ext; a failed build is a warning, not an error."""

        def finalize_options(self) -> None:
            super().finalize_options()
            self.build_temp = str(ROOT / "build" / "ext")

        def run(self) -> None:
            try:
                super().run()
            except Exception as e:  # noqa: BLE001 - the extension is optional
                self._failed(e)

        def build_extension(self, ext) -> None:  # noqa: ANN001
            digest = _sources_digest()  # before: the sources may change while they compile
            try:
                super().build_extension(ext)
            except Exception as e:  # noqa: BLE001 - the extension is optional
                self._failed(e)
                return
            for place in self._places():
                if place.is_dir():
                    (place / "_C.sources").write_text(digest + "\n")

        def _places(self) -> list:
            """Where the extension goes: the build folder, and the source tree (editable, --inplace)."""
            places = [Path(self.get_ext_fullpath("torchkiln._C")).parent]
            if getattr(self, "editable_mode", False) or self.inplace:
                places.append(ROOT / "torchkiln")
            return places

        def _failed(self, e: BaseException) -> None:
            # An extension left from an earlier build would not match these sources.
            name = Path(self.get_ext_fullpath("torchkiln._C")).name
            for place in self._places() + [ROOT / "torchkiln"]:
                for stale in (place / name, place / "_C.sources"):
                    if stale.exists():
                        stale.unlink()
            _warn(
                f"torchkiln._C (the C++ executor) failed to build: {type(e).__name__}: {e}\n"
                "torchkiln will run programs on its generated-Python executor."
            )

    return {"ext_modules": [ext], "cmdclass": {"build_ext": OptionalBuildExtension.with_options(use_ninja=True)}}


setup(**_extension_setup())
