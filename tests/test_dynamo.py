"""torch.compile(model, backend="torchkiln") runs Dynamo's graphs through the tracer."""
import torch
import torch.nn as nn

from torchkiln import ScriptModule
from torchkiln import dynamo


def test_backend_traces_the_fx_graph_and_keeps_autograd():
    compiled_graphs = []

    def backend(gm, example_inputs):
        result = dynamo.backend(gm, example_inputs)
        compiled_graphs.append(result)
        return result

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 2))
    compiled = torch.compile(model, backend=backend)
    x = torch.randn(4, 8)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))
    assert compiled_graphs and isinstance(compiled_graphs[0], ScriptModule)
    assert "aten::linear" in str(compiled_graphs[0].graph)
    y = torch.randn(4, 8, requires_grad=True)
    compiled(y).sum().backward()
    assert y.grad is not None and y.grad.shape == (4, 8)


def test_backend_is_registered_by_name():
    from torch._dynamo import list_backends

    assert "torchkiln" in list_backends(exclude_tags=())
