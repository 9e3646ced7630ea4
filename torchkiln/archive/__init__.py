"""Archives: save a ScriptModule / ScriptFunction to a zip, load it back safely.

```python
from torchkiln import archive
archive.save(scripted, "m.pt", _extra_files={"meta.txt": "v2"})
extra = {"meta.txt": ""}
m = archive.load("m.pt", map_location="cpu", _extra_files=extra)   # extra["meta.txt"] == b"v2"
```

The format is specified in docs/archive.md (the C++ runtime reads the same
files). `format` holds the names, limits and encodings; `writer` and `reader`
the two directions. No pickle anywhere; loading never runs code from the file.
"""
from .format import FORMAT_NAME, FORMAT_VERSION
from .reader import load
from .writer import save

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "save"]
