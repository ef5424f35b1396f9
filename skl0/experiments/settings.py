"""The settings of one run of Tables 1–3, as one frozen object.

:class:`TableSettings` holds every choice that changes a number of the tables (data, p,
seed, training budgets, encoder recipe, targets, whitening, augmentation) and derives from
them the names of the output files (:attr:`TableSettings.stem`) and the keys of the cache
(:meth:`TableSettings.key`), so neither is assembled by hand anywhere else.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from dataclasses import dataclass

from .data import DATASETS

EXPERIMENTS = ("table1", "table2", "table3")
TARGETS = ("htp", "paper")

#: The budgets of a full run and of ``quick=True``; explicit arguments override them.
FULL = {"n_train": None, "n_test": None, "max_p": None, "max_epochs": 100,
        "baseline_epochs": 100, "solver_max_iter": 1000, "dict_max_iter": 10}
QUICK = {"n_train": 2000, "n_test": 500, "max_p": 128, "max_epochs": 30,
         "baseline_epochs": 30, "solver_max_iter": 300, "dict_max_iter": 3}

# the fields that only name or place a run's files: no cached array depends on them
_NAME_ONLY = ("experiment", "n_components", "tag", "quick", "device")


@dataclass(frozen=True)
class TableSettings:
    """Everything that decides the rows of table1, table2 or table3.

    Build it with :meth:`from_options` (which checks the values and fills the full or quick
    budgets); the fields are then final. ``encoder_params`` is kept as sorted
    ``(name, value)`` pairs so that the object hashes.

    Attributes
    ----------
    experiment : {"table1", "table2", "table3"}
    dataset : {"fashion", "mnist5k", "digits"}
    n_components : tuple of int
        The dictionary sizes p, sorted, after ``max_p``.
    seed : int
    quick : bool
    device : str
    n_train, n_test : int or None
        Random subsets of the training and test sets (None: all).
    max_p : int or None
        The largest p of the run (quick runs).
    max_epochs, baseline_epochs, solver_max_iter, dict_max_iter : int
        Epochs of the deep and baseline encoders, iterations of the optimal-code solver,
        epochs of dictionary learning.
    encoder_params : tuple of (str, object)
        Further parameters of the deep encoder.
    tag : str or None
        A name for a recipe variant (its files get it).
    zca : float or None
        ZCA whitening ε.
    targets : {"htp", "paper"}
    augment : int
        Pixels of the shifted copies the encoders also train on (0: none).
    """

    experiment: str
    dataset: str
    n_components: tuple = (128, 256, 512)
    seed: int = 0
    quick: bool = False
    device: str = "cpu"
    n_train: int | None = None
    n_test: int | None = None
    max_p: int | None = None
    max_epochs: int = 100
    baseline_epochs: int = 100
    solver_max_iter: int = 1000
    dict_max_iter: int = 10
    encoder_params: tuple = ()
    tag: str | None = None
    zca: float | None = None
    targets: str = "htp"
    augment: int = 0

    @classmethod
    def from_options(cls, experiment, *, dataset, n_components=(128, 256, 512), seed=0,
                     quick=False, device="cpu", encoder_params=None, tag=None, zca=None,
                     targets="htp", augment=0, **budgets):
        """Check the options of :func:`skl0.experiments.codes.run` and fill the budgets.

        ``budgets`` are ``n_train``, ``n_test``, ``max_epochs``, ``baseline_epochs``,
        ``solver_max_iter`` and ``dict_max_iter``; those given as None take the full run's
        value, or the quick one's with ``quick``.

        Raises
        ------
        ValueError
            For an unknown experiment, data set or targets, a bad ``augment`` or ``zca``, or
            ``augment`` with ``zca``.
        """
        if experiment not in EXPERIMENTS:
            raise ValueError(f"experiment must be one of {list(EXPERIMENTS)}, "
                             f"got {experiment!r}")
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
        if targets not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}, got {targets!r}")
        if isinstance(augment, bool) or not isinstance(augment, numbers.Integral) \
                or augment < 0:
            raise ValueError(f"augment must be a non-negative integer, got {augment!r}")
        if zca is not None and not (isinstance(zca, (int, float))
                                    and not isinstance(zca, bool) and zca > 0):
            raise ValueError(f"zca must be a positive float (the ZCA ε), got {zca!r}")
        if augment and zca is not None:
            raise ValueError("augment and zca cannot be combined (the shifted copies are not "
                             "whitened)")
        unknown = set(budgets) - set(FULL)
        if unknown:
            raise TypeError(f"unexpected options {sorted(unknown)}")
        filled = dict(QUICK if quick else FULL)
        filled.update({k: v for k, v in budgets.items() if v is not None})
        ps = sorted({int(p) for p in n_components})
        if filled["max_p"] is not None:
            ps = [p for p in ps if p <= filled["max_p"]] or ps[:1]
        return cls(experiment=experiment, dataset=dataset, n_components=tuple(ps),
                   seed=int(seed), quick=bool(quick), device=device,
                   encoder_params=tuple(sorted((encoder_params or {}).items())), tag=tag,
                   zca=None if zca is None else float(zca), targets=targets,
                   augment=int(augment), **filled)

    @property
    def problem(self):
        """``"l0"`` for table1, ``"msparse"`` for table2 and table3 (which share rows)."""
        return "l0" if self.experiment == "table1" else "msparse"

    @property
    def recipe(self):
        """The deep encoder's parameters: its epochs and ``encoder_params``."""
        return {"max_epochs": self.max_epochs, **dict(self.encoder_params)}

    @property
    def budgets(self):
        """The budgets as the CSV's ``settings`` column records them."""
        out = {k: getattr(self, k) for k in FULL}
        if self.augment:  # only then, as the rows written before the option
            out["augment"] = self.augment
        return out

    @property
    def file_tag(self):
        """The variant part of the file names: targets, whitening, tag and augmentation."""
        parts = [f"{self.targets}-targets" if self.targets != "htp" else None,
                 f"zca{self.zca:g}" if self.zca is not None else None, self.tag,
                 f"aug{self.augment}" if self.augment else None]
        return "_".join(part for part in parts if part) or None

    @property
    def stem(self):
        """``<experiment>_<dataset>[_<file_tag>][_seed<S>]``, the output files' name."""
        parts = [self.experiment, self.dataset, self.file_tag,
                 f"seed{self.seed}" if self.seed else None]
        return "_".join(str(part) for part in parts if part)

    def key(self, *fields, **extra):
        """A JSON text of the named fields (every field that decides a number when none is
        named) and ``extra``: what :class:`~skl0.experiments.cache.Cache` hashes.

        >>> s = TableSettings.from_options("table1", dataset="digits", quick=True)
        >>> s.key("dataset", "seed", p=32)
        '{"dataset": "digits", "p": 32, "seed": 0}'
        """
        values = dataclasses.asdict(self)
        names = fields or [k for k in values if k not in _NAME_ONLY]
        return json.dumps({**{k: values[k] for k in names}, **extra}, sort_keys=True,
                          default=list)
