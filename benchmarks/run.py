"""Speed, memory and accuracy-speed benchmarks of skl0: the dispatcher of the sections.

Usage::

    python benchmarks/run.py [--quick] [--device cpu|cuda] [--section NAME ...]

Each section is a module of this folder, run here with the options below; from one run it
prints medians over repeats and ratios:

* ``transform`` (``transform.py``): throughput of ``transform`` against scikit-learn's
  ``sparse_encode``, SPAMS' OMP and :func:`skl0.iht`, and the network's floor;
* ``fit`` (``fit.py``): ``fit`` end to end on Fashion-MNIST, split by phase;
* ``memory`` (``memory.py``): the peak memory ``transform`` adds, in a subprocess;
* ``frontier`` (``frontier.py``, not in the default run): every method's throughput against
  its objective on held-out data, every route of skl0 a row.

What they share (timing, tables, the machine, the data) is in ``_common.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fit  # noqa: E402
import frontier  # noqa: E402
import memory  # noqa: E402
import transform  # noqa: E402
from _common import SIZES, is_cuda, load_data, machine, non_negative, positive  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (~2-3 min)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=positive, default=None,
                        help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--section", nargs="*", default=["transform", "fit", "memory"],
                        choices=["transform", "fit", "memory", "frontier"],
                        help="sections to run (default: transform fit memory; frontier: "
                        "throughput against objective ratio of every method on real data)")
    parser.add_argument("--sizes", nargs="+", type=positive, default=None,
                        help="code sizes p of every section (default: 128 256 512; with "
                        "--quick the fit section takes 128 and the memory section 256)")
    parser.add_argument("--transform-samples", type=positive, default=20000,
                        help="samples that our encoders and sklearn's threshold encode in the "
                        "transform section (default: 20000)")
    parser.add_argument("--memory-samples", type=positive, default=200000,
                        help="samples of the memory section (default: 200000)")
    parser.add_argument("--fit-samples", type=positive, default=None,
                        help="training samples of the fit section (default: all 60000; "
                        "--quick: 5000)")
    parser.add_argument("--fit-epochs", type=non_negative, default=None,
                        help="max_epochs of the fit section (default: 100, the estimators' "
                        "default; --quick: 5)")
    parser.add_argument("--fit-encoders", nargs="*", default=["l0", "msparse"],
                        choices=["l0", "msparse"])
    parser.add_argument("--data", default=None,
                        help="folder of the Fashion-MNIST idx files (default: the Debian "
                        "package's, /usr/share/datasets/fashion-mnist)")
    parser.add_argument("--frontier-data", nargs="+", default=["digits", "fashion"],
                        choices=sorted(frontier.FRONTIER),
                        help="data sets of the frontier section (default: digits fashion; "
                        "patches: scikit-learn's sample images)")
    parser.add_argument("--frontier-train", type=positive, default=None,
                        help="training samples of the frontier section (default: all)")
    parser.add_argument("--frontier-epochs", type=non_negative, default=None,
                        help="max_epochs of the frontier's encoders (default: theirs)")
    parser.add_argument("--frontier-test", type=positive, default=2000,
                        help="held-out rows of the frontier's objective (default: 2000)")
    parser.add_argument("--frontier-lean", action="store_true",
                        help="leave out the frontier's far peers (LISTA, IHT, the batched OMP "
                        "package)")
    parser.add_argument("--frontier-repeats", type=positive, default=None,
                        help="timed calls per method and call size in the frontier (default: "
                        "5; --quick: 3)")
    parser.add_argument("--out", default=".",
                        help="folder of the frontier section's figures (default: .)")
    args = parser.parse_args(argv)
    if is_cuda(args.device) and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch sees no CUDA device here")
    if args.device != "cpu" and not is_cuda(args.device):
        parser.error(f"--device must be cpu, cuda or cuda:N, got {args.device!r}")
    t_start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    print(f"device: {args.device}; {'--quick' if args.quick else 'full'} run")
    if {"transform", "fit", "memory"} & set(args.section):
        X, source = load_data(args.data)
        print(f"data: {source}, {X.shape[0]:,} x {X.shape[1]}")
    if "transform" in args.section:
        transform.bench_transform(X, args.device, args.quick, sizes=args.sizes or SIZES,
                        n_fast=args.transform_samples)
    if "fit" in args.section:
        sizes = args.sizes or ((128,) if args.quick else SIZES)
        epochs = args.fit_epochs if args.fit_epochs is not None else (5 if args.quick else 100)
        fit.bench_fit(X, args.device, args.quick, sizes, epochs, args.fit_encoders,
                  n_fit=args.fit_samples, data_path=args.data)
    if "memory" in args.section:
        memory.bench_memory(X, args.device, args.quick, sizes=args.sizes, n=args.memory_samples)
    if "frontier" in args.section:
        frontier.bench_frontier(args.device, args.quick, args.frontier_data, sizes=args.sizes,
                                n_train=args.frontier_train, n_test=args.frontier_test,
                                out_dir=args.out, epochs=args.frontier_epochs,
                                lean=args.frontier_lean, repeats=args.frontier_repeats)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}; total "
          f"{time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
