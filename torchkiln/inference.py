"""freeze / optimize_for_inference (being written)."""


def freeze(module, preserved_attrs=None, optimize_numerics=True):
    raise NotImplementedError


def optimize_for_inference(module, other_methods=None):
    raise NotImplementedError
