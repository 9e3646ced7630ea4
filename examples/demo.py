"""torchkiln's main job, end to end: script, trace, save, load in a fresh
process and in a C++ program with no Python. Prints what it did."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn

import torchkiln as jit


class Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.gate = Gate()
        self.fc = nn.Linear(8, 4)

    def forward(self, x, steps: int = 2):
        x = torch.relu(self.bn(self.conv(x)))
        x = self.gate(x)
        for _ in range(steps):
            x = x * 0.5
        return self.fc(x.mean(dim=(2, 3)))


def step(title):
    print(f"\n== {title}")


def main():
    torch.manual_seed(0)
    work = tempfile.mkdtemp(prefix="torchkiln-demo-")
    model = Net().eval()
    x = torch.randn(2, 3, 32, 32)

    step("script: compile the Python source, keeping if/for")
    t0 = time.perf_counter()
    scripted = jit.script(model)
    print(f"scripted Net in {1000 * (time.perf_counter() - t0):.1f} ms")
    print(scripted.gate.code)
    with torch.no_grad():
        for sign in (1.0, -1.0):
            same = torch.allclose(scripted(x * sign), model(x * sign), atol=1e-5)
            print(f"input sign {sign:+}: scripted == eager: {same}")

    step("trace: run once, record the tensor operations")
    def foo(a, b):
        return 2 * a + b
    traced_foo = jit.trace(foo, (torch.rand(3), torch.rand(3)))
    print(traced_foo.graph)
    print("traced foo([1,2,3], [4,5,6]) =", traced_foo(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0, 5.0, 6.0])))

    step("save: one file, no pickle")
    path = os.path.join(work, "net.pt")
    scripted.save(path)
    print(f"saved {path} ({os.path.getsize(path)} bytes)")
    with torch.no_grad():
        expected = model(torch.ones(1, 3, 32, 32))
    print("eager output on ones:", expected)

    step("load in a fresh Python process that never saw class Net")
    child = (
        "import torch, torchkiln\n"
        f"m = torchkiln.load({path!r})\n"
        "with torch.no_grad():\n"
        "    print('fresh process output:', m(torch.ones(1, 3, 32, 32)))\n"
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, cwd=work)
    print(out.stdout.strip() or out.stderr.strip())

    step("load in C++ (libtorch only, no libpython)")
    if shutil.which("cmake") is None:
        print("cmake not found: skipped")
        return
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpp")
    build = os.path.join(work, "cpp-build")
    prefix = ";".join([jit.utils.cmake_prefix_path, torch.utils.cmake_prefix_path])
    t0 = time.perf_counter()
    subprocess.run(["cmake", "-S", src, "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", build, "-j2"], check=True, capture_output=True)
    print(f"built example-app in {time.perf_counter() - t0:.0f} s")
    app = os.path.join(build, "example-app")
    run = subprocess.run([app, path], capture_output=True, text=True)
    print(run.stdout.strip() or run.stderr.strip())
    linked = subprocess.run(["ldd", app], capture_output=True, text=True).stdout
    print("links libpython:", "libpython" in linked)


if __name__ == "__main__":
    main()
