"""Command line: ``python -m skl0 demo``, ``python -m skl0 reproduce EXPERIMENT`` and
``python -m skl0 report``."""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap

import torch
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from ._utils import resolve_device
from .experiments import EXPERIMENTS
from .experiments.codes import DEFAULT_DATA
from .experiments.settings import TARGETS

_EPILOG = f"""default data of each experiment (--dataset overrides it):
  table1, table2, table3   {textwrap.fill(DEFAULT_DATA, 79, subsequent_indent=" " * 27)}
  classification           scikit-learn's digits
  clustering               scikit-learn's digits

--quick runs in minutes on two CPU cores, e.g.
  python -m skl0 reproduce table1 --quick
  python -m skl0 reproduce classification --dataset digits --p 64 128 --quick
"""


def _parser():
    parser = argparse.ArgumentParser(prog="python -m skl0", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit both encoders on sklearn's digits and print a table")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--device", default="auto")
    demo.add_argument("--max-epochs", type=int, default=None,
                      help="training epochs (default: the demo's own choice)")
    demo.add_argument("--threads", type=int, default=None,
                      help="torch CPU threads at most (default: torch's own choice; skl0 "
                      "uses one where the matrices are too small for more)")
    page = sub.add_parser(
        "report", help="regenerate the tables of the results page from its CSV files",
        description="Rewrite every table of the results page that names a CSV file "
        "(<!-- csv: FILE --> ... <!-- end csv -->) from that file.")
    page.add_argument("--page", default="docs/results.md",
                      help="the page (default: docs/results.md, from the repository root)")
    page.add_argument("--csv", default=None, metavar="DIR",
                      help="the folder of the CSV files (default: tables/ beside the page)")
    page.add_argument("--check", action="store_true",
                      help="write nothing; exit with 1 if the page differs from its files")
    rep = sub.add_parser(
        "reproduce", help="run one of the paper's experiments",
        description="Run one of the paper's experiments; it prints its table and writes "
        "it (Markdown, CSV, figures) to --output once its data are loaded.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    rep.add_argument("experiment", choices=sorted(EXPERIMENTS),
                     help="the experiment (its default data are listed below)")
    rep.add_argument("--dataset", default=None, choices=("digits", "mnist5k", "fashion"),
                     help="the data (default: the experiment's own, listed below); digits: "
                     "scikit-learn's, embedded, nothing to install")
    rep.add_argument("--p", dest="n_components", type=int, nargs="+", default=[128, 256, 512],
                     help="dictionary sizes p")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--output", default="results", help="folder for the .md, .csv and figures")
    rep.add_argument("--quick", action="store_true", help="a reduced run that takes minutes")
    rep.add_argument("--device", default="auto")
    rep.add_argument("--zca", type=float, default=None, metavar="EPS",
                     help="table1-3 only: ZCA-whiten the data after the paper's preprocessing "
                     "(EPS relative to the largest eigenvalue; not in the paper's text)")
    rep.add_argument("--targets", choices=TARGETS, default=None,
                     help="table1-3 only: the optimal codes; htp (default): those of the "
                     "encoders' fit; paper: the l1 solution, then plain IHT until convergence")
    rep.add_argument("--n-stages", type=int, default=None, metavar="K",
                     help="table1-3 only: stages of the deep encoders (default 2, the paper's)")
    rep.add_argument("--untied", action="store_true",
                     help="table1-3 only: untied stages (each its own S and thresholds; "
                     "default: tied, the paper's)")
    rep.add_argument("--l1-stages", type=int, default=None, metavar="L",
                     help="table1 only: the first L stages of the deep l0 encoder are soft "
                     "thresholds (ISTA), the rest hard (default 0, the paper's; not in the "
                     "paper)")
    rep.add_argument("--lr", type=float, default=None,
                     help="table1-3 only: the deep encoders' learning rate (default 1e-3)")
    rep.add_argument("--n-train", type=int, default=None, metavar="N",
                     help="table1-3 only: a random subset of N training samples")
    rep.add_argument("--valid", type=float, default=None, metavar="F",
                     help="table1-3 only: hold out a fraction F of the training samples as "
                     "the deep encoders' validation set (their train_split)")
    rep.add_argument("--patience", type=int, default=None, metavar="N",
                     help="table1-3 only: the deep encoders stop when the validation loss "
                     "(the training loss without --valid) has not improved for N epochs, "
                     "and keep their best epoch")
    rep.add_argument("--augment", type=int, default=None, metavar="S",
                     help="table1-3 only: the encoders also train on the training images "
                     "shifted by up to S pixels (not in the paper; dictionary, test codes "
                     "and IHT rows unchanged)")
    rep.add_argument("--threads", type=int, default=None,
                     help="torch CPU threads at most (default: torch's own choice; skl0 "
                     "uses one where the matrices are too small for more)")
    return parser


def _table_options(args):
    """The keyword arguments of the table1-3 options, checked once; tagged in the names."""
    given = [name for name, value in (("--zca", args.zca), ("--targets", args.targets),
                                      ("--n-stages", args.n_stages),
                                      ("--untied", args.untied or None),
                                      ("--l1-stages", args.l1_stages),
                                      ("--lr", args.lr),
                                      ("--n-train", args.n_train),
                                      ("--valid", args.valid),
                                      ("--patience", args.patience),
                                      ("--augment", args.augment)) if value is not None]
    if not given:
        return {}
    if not args.experiment.startswith("table"):
        raise SystemExit(f"{given[0]} applies to table1, table2 and table3 only")
    extra, params, tag = {}, {}, []
    if args.zca is not None:
        extra["zca"] = args.zca
    if args.targets is not None:
        extra["targets"] = args.targets
    if args.n_train is not None:
        if args.n_train < 1:
            raise SystemExit("--n-train must be at least 1")
        extra["n_train"] = args.n_train
        tag.append(f"{args.n_train // 1000}k" if args.n_train % 1000 == 0
                   else f"n{args.n_train}")
    if args.n_stages is not None:
        params["n_stages"] = args.n_stages
    if args.untied:
        params["tied_stages"] = False
    if args.n_stages is not None or args.untied:
        tag.append(f"K{params.get('n_stages', 2)}" + ("untied" if args.untied else "tied"))
    if args.l1_stages is not None:
        if args.experiment != "table1":
            raise SystemExit("--l1-stages applies to table1 only (the l0 encoder)")
        if args.l1_stages >= params.get("n_stages", 2):
            raise SystemExit("--l1-stages must be less than --n-stages "
                             f"({params.get('n_stages', 2)})")
        params["l1_stages"] = args.l1_stages
        tag.append(f"l1s{args.l1_stages}")
    if args.lr is not None:
        params["lr"] = args.lr
        tag.append(f"lr{args.lr:g}")
    if args.valid is not None:
        if args.augment is not None:
            raise SystemExit("--valid cannot be used with --augment (shifted copies of a "
                             "training image would be validation samples)")
        params["train_split"] = args.valid
        tag.append(f"val{args.valid:g}")
    if args.patience is not None:
        params["patience"] = args.patience
        tag.append(f"pat{args.patience}")
    if args.augment is not None:
        if args.augment < 1:
            raise SystemExit("--augment must be at least 1 (pixels)")
        extra["augment"] = args.augment  # run() tags the names with it
    if params:
        extra["encoder_params"] = params
    if tag:
        extra["tag"] = "_".join(tag)
    return extra


def _check_common(args):
    """The options every command has that no estimator checks, before any work starts."""
    if args.threads is not None and args.threads < 1:  # goes to torch.set_num_threads
        raise SystemExit("--threads must be at least 1")
    try:
        resolve_device(args.device)
    except ValueError as exc:
        raise SystemExit(f"--device: {exc}") from None


# The options that become an encoder's parameter, checked by the encoder's own constraints.
_ENCODER_OPTIONS = {"n_components": "--p", "random_state": "--seed",
                    "max_epochs": "--max-epochs", "n_stages": "--n-stages",
                    "l1_stages": "--l1-stages", "lr": "--lr", "train_split": "--valid",
                    "patience": "--patience"}


def _check_encoder_options(args, encoder_params):
    """Check the options an encoder receives with its ``_parameter_constraints`` (what its
    ``fit`` checks), before any data are loaded; the message names the option."""
    from .encoders import L0Encoder, MSparseEncoder

    msparse = args.command == "reproduce" and args.experiment in ("table2", "table3")
    cls = MSparseEncoder if msparse else L0Encoder
    values = [("random_state", args.seed), *encoder_params.items()]
    if args.command == "demo":
        values.append(("max_epochs", args.max_epochs))
    else:
        values += [("n_components", p) for p in args.n_components]
    for name, value in values:
        if value is None:  # the experiment's own default
            continue
        try:
            validate_parameter_constraints({name: cls._parameter_constraints[name]},
                                           {name: value}, caller_name=cls.__name__)
        except InvalidParameterError as exc:
            raise SystemExit(f"{_ENCODER_OPTIONS[name]}: {exc}") from None


def main(argv=None):
    """Entry point of ``python -m skl0`` (and the ``skl0`` script).

    Bad options end in a one-line message (``SystemExit``), as do missing data or packages
    and a folder that cannot be written (``ImportError`` or ``OSError`` of the run).
    """
    args = _parser().parse_args(argv)
    if args.command == "report":
        return _report(args)
    _check_common(args)
    extra = _table_options(args) if args.command == "reproduce" else {}
    _check_encoder_options(args, extra.get("encoder_params", {}))
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        return _run(args, extra)
    except (ImportError, OSError) as exc:
        hint = ""
        if args.command == "reproduce" and "--dataset digits" not in str(exc):
            hint = (" (--dataset digits runs on scikit-learn's embedded digits, with nothing "
                    "to install)")
        raise SystemExit(f"python -m skl0 {args.command}: error: {exc}{hint}") from None


def _report(args):
    """``python -m skl0 report``: 0 when the page is (or now is) its files' tables."""
    from .experiments.report import update_page

    try:
        changed = update_page(args.page, args.csv, check=args.check)
    except OSError as exc:
        raise SystemExit(f"python -m skl0 report: error: {exc}") from None
    if args.check and changed:
        print(f"{args.page}: its tables differ from the CSV files (run python -m skl0 report)")
        return 1
    print(f"{args.page}: {'rewritten' if changed else 'up to date'}")
    return 0


def _run(args, extra):
    """Run the command of ``args`` (checked), ``extra`` its table options; 0 on success."""
    if args.command == "demo":
        from .experiments.demo import run

        run(seed=args.seed, device=args.device, max_epochs=args.max_epochs)
        return 0
    module = importlib.import_module(EXPERIMENTS[args.experiment])
    module.run(args.experiment, dataset=args.dataset, n_components=args.n_components,
               seed=args.seed, quick=args.quick, output_dir=args.output, device=args.device,
               **extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
