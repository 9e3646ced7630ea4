"""The Python executor: each graph becomes Python source, compiled once.

```python
from torchkiln.codegen import compile_function, python_source
forward = compile_function(fn, unit)     # call with positional args (self first for methods)
print(python_source(fn, unit))           # `.code`
```

`emit.py` and `structural.py` write the statements, `bindings.py` picks how
each ATen op is called, `compiler.py` compiles and caches, `runtime.py`
holds the values and helpers both executors share.
"""
from .compiler import clear_cache, compile_function, executable_source, python_source
from .emit import CodegenError

__all__ = ["compile_function", "python_source", "executable_source", "clear_cache", "CodegenError"]
