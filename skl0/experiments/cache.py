"""Arrays and rows of the experiments cached on disk, keyed by the hash of their settings.

An entry's key is the SHA-1 of the JSON text its caller builds from the settings that
decide it (:meth:`~skl0.experiments.settings.TableSettings.key`) and of skl0's version, so
a release that changes a solver never reuses an older entry. Deleting the folder (or a
file of it) recomputes what it held.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path

import numpy as np


class Cache:
    """A folder of ``<name>_<hash>.npz`` arrays and ``<name>_<hash>.json`` rows.

    Parameters
    ----------
    folder : str or path or None
        None keeps entries in memory only (for this object's lifetime).
    """

    def __init__(self, folder):
        self.folder = None if folder is None else Path(folder)
        self._memory = {}

    @staticmethod
    def digest(key):
        """The 16-hex-digit hash of ``key`` (a JSON text) and skl0's version."""
        text = json.dumps([version("skl0"), key])
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def _path(self, name, key, suffix):
        if self.folder is None:
            return None
        return self.folder / f"{name}_{self.digest(key)}{suffix}"

    def _write(self, path, write):
        path.parent.mkdir(parents=True, exist_ok=True)
        # write then rename: two runs (table1 beside table2) may share an entry
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp{path.suffix}")
        write(tmp)
        os.replace(tmp, path)

    def arrays(self, name, key, compute):
        """The dict of arrays stored under ``(name, key)``, from ``compute()`` if absent."""
        memo = (name, key)
        if memo in self._memory:
            return self._memory[memo]
        path = self._path(name, key, ".npz")
        if path is not None and path.is_file():
            with np.load(path) as f:
                value = {k: f[k] for k in f.files}
        else:
            value = compute()
            if path is not None:
                self._write(path, lambda tmp: np.savez(tmp, **value))
        self._memory[memo] = value
        return value

    def rows(self, name, key, compute):
        """The list of row dicts stored under ``(name, key)``, from ``compute()`` if absent.

        Returns
        -------
        rows : list of dict
        cached : bool
            Whether they came from the cache.
        """
        path = self._path(name, key, ".json")
        if path is not None and path.is_file():
            return json.loads(path.read_text(encoding="utf-8")), True
        value = compute()
        if path is not None:
            self._write(path, lambda tmp: tmp.write_text(json.dumps(value), encoding="utf-8"))
        return value, False
