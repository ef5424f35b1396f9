"""Section ``memory``: the peak memory that ``transform`` adds, against its output's size.

``python benchmarks/run.py --section memory``. Each encoder (untrained, on a dictionary of
data samples) is pickled and encodes 200,000 float32 rows in a fresh subprocess, which
reports its RSS high-water mark (``VmHWM``) before and after, reset where
``/proc/self/clear_refs`` allows; on a GPU also the device's own peak.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile

from _common import ALPHA, SIZES, M, data_dictionary, is_cuda, table

from skl0 import L0Encoder, MSparseEncoder

_MEMORY_CHILD = r"""
import pickle, sys, numpy as np, torch
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
def reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
enc = pickle.load(open(sys.argv[1], "rb"))
n = int(sys.argv[2])
X = np.random.default_rng(0).standard_normal((n, enc.n_features_in_)).astype(np.float32)
enc.transform(X[:1000])  # torch's lazy initialisation is not the transform's cost
import gc; gc.collect()
gpu = torch.cuda.is_available() and str(enc.device).startswith("cuda")
if gpu:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    gpu_before = torch.cuda.memory_allocated()
ok = reset()
import resource
before = hwm()
rss_before = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
Z = enc.transform(X)
after = hwm()
gpu_extra = torch.cuda.max_memory_allocated() - gpu_before if gpu else -1
print(ok, before, after, rss_before, Z.nbytes, gpu_extra)
"""


def bench_memory(X, device, quick, sizes=None, n=200000):
    rows, reset = [], True
    sizes = sizes or ((256,) if quick else SIZES)
    gpu = is_cuda(device)
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "child.py")
        with open(script, "w") as f:
            f.write(_MEMORY_CHILD)
        for p in sizes:
            D = data_dictionary(X, p)
            for cls, kw in ((L0Encoder, {"alpha": ALPHA}), (MSparseEncoder,
                                                            {"n_nonzero_coefs": M})):
                enc = cls(dictionary=D, max_epochs=0, device=device, **kw).fit(X[:100])
                path = os.path.join(tmp, "enc.pkl")
                with open(path, "wb") as f:
                    pickle.dump(enc, f)
                env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
                out = subprocess.run([sys.executable, script, path, str(n)], env=env,
                                     capture_output=True, text=True, check=True).stdout
                ok, *numbers = out.split()
                before, after, rss_before, nbytes, gpu_extra = map(int, numbers)
                # with the high-water mark reset, the peak counts from the current RSS
                reset &= ok == "True"
                base = rss_before if ok == "True" else before
                extra = after - base
                row = [p, cls.__name__, f"{nbytes / 2**20:.0f}", f"{extra / 2**20:.0f}",
                       f"{(extra - nbytes) / 2**20:+.0f}"]
                if gpu:  # device memory: the peak that torch's allocator held above its start
                    row.append(f"{gpu_extra / 2**20:.0f}")
                rows.append(row)
    header = ["p", "encoder", "output MiB", "extra peak MiB", "extra - output MiB"]
    if gpu:
        header.append("extra GPU peak MiB")
    table(f"peak memory of transform on {n:,} float32 samples (VmHWM delta, subprocess)",
          header, rows)
    if not reset:
        print("\nThe high-water mark could not be reset here (/proc/self/clear_refs): the "
              "extra peak counts from the child's own start-up peak and may read low.")

