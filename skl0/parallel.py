"""Encoding data larger than memory: a file streamed in batches, or a dask array by chunks.

Two helpers around a fitted encoder's ``transform`` (any of :class:`~skl0.L0Encoder`,
:class:`~skl0.MSparseEncoder`, :class:`~skl0.LISTAEncoder`, or a fitted scikit-learn
transformer):

- :func:`transform_batches` on one machine: the rows of an array (a ``numpy.memmap``, an
  ``.npy`` file opened with ``mmap_mode="r"``, an h5py or zarr array) are read a batch at
  a time and their codes written into an output array or ``.npy`` file. A whole memory map
  is read, and an ``.npy`` output written, with file reads and writes into one batch
  buffer, so the process holds about one batch of input and codes, not the mapped pages
  of the whole file.
- :func:`transform_dask` on a dask cluster: a lazy dask array of codes, one
  ``transform`` per row chunk, the encoder sent to the workers once (scattered when a
  ``distributed`` client is active, one key of the graph otherwise).
- :func:`dask_from_npy` and :func:`dask_to_npy`: an ``.npy`` file as a dask array whose
  chunks the workers read themselves, and a dask array written into one ``.npy`` file by
  the workers, each its own rows (a file system the workers share: one machine, NFS).
  ``dask.array.from_array`` of a memory map would instead pickle the whole array into
  the graph.

Neither needs the encoder to know about batches: ``transform`` runs on each batch or
chunk as it is. dask is optional (``pip install skl0[dask]``) and imported only by
:func:`transform_dask`.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import uuid
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

__all__ = ["transform_batches", "transform_dask", "dask_from_npy", "dask_to_npy"]

# Bytes of one batch of input and codes together in transform_batches (16 MiB).
_BATCH_BYTES = 1 << 24


def _out_dtype(dtype):
    return np.dtype(dtype) if np.dtype(dtype) in (np.float32, np.float64) else np.dtype("f8")


def _n_codes(encoder, n_features, dtype):
    """The width and dtype of ``encoder.transform``'s output (from one row of zeros)."""
    probe = encoder.transform(np.zeros((1, n_features), dtype=dtype))
    return probe.shape[1], probe.dtype


def _whole_file_map(a, modes=("r", "r+", "w+")):
    """``(filename, offset)`` when ``a`` is a whole C-ordered ``numpy.memmap`` of a file
    (not a view of one) opened in one of ``modes``, else ``None``: its rows can then be
    read or written by offset. A copy-on-write map (``"c"``) may differ from its file."""
    if (isinstance(a, np.memmap) and isinstance(a.base, mmap.mmap) and a.filename
            and a.flags.c_contiguous and getattr(a, "mode", None) in modes):
        return a.filename, int(a.offset)
    return None


def _check_2d(X, name="X"):
    """``X`` itself when it has ``shape`` and ``dtype`` (a memory map, an h5py or zarr array
    is read batch by batch), else an ndarray of it; 2-d either way."""
    if not (hasattr(X, "shape") and hasattr(X, "dtype")):
        X = np.asarray(X)
    if len(X.shape) != 2:
        raise ValueError(f"{name} must be 2-dimensional, got {len(X.shape)} dimensions")
    return X


@validate_params(
    {
        "encoder": [HasMethods(["transform"])],
        "X": ["array-like"],
        "out": [None, str, os.PathLike, "array-like"],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def transform_batches(encoder, X, out=None, *, batch_size=None):
    """Encode the rows of ``X`` a batch at a time into ``out``, with bounded memory.

    Parameters
    ----------
    encoder : fitted transformer
        A fitted skl0 encoder (or any fitted object with ``transform``).
    X : array-like of shape (n_samples, n_features)
        Anything with ``shape``, ``dtype`` and row slicing: a ``numpy.memmap`` (or
        ``np.load(path, mmap_mode="r")``), an h5py or zarr array, an ndarray (other
        array-likes are converted to one). A whole C-ordered memory map is read with file
        reads into one batch buffer.
    out : None, str, path or ndarray of shape (n_samples, n_codes), default=None
        Where the codes go: ``None`` makes an array in memory; a path makes an ``.npy``
        file there (written with file writes under a temporary name in the same folder,
        renamed into place only once every batch is written, so an error halfway leaves
        no partial file and an existing file untouched; returned opened with
        ``mmap_mode="r+"``); an array of a floating-point dtype (e.g. a ``numpy.memmap``
        opened ``"w+"``) is filled in place, batch by batch. ``out`` must not be ``X``,
        share memory with it or lie in its file.
    batch_size : int, default=None
        Rows per batch; by default the rows of 16 MiB of input and codes together
        (at least 1,024).

    Returns
    -------
    codes : ndarray or numpy.memmap of shape (n_samples, n_codes)
        ``out`` when it was an array; a memory map of the file when it was a path.
        The dtype is X's float dtype (float32 or float64; others give float64).

    Raises
    ------
    ValueError
        If X is not 2-d, ``out`` is an array of another shape than the codes or
        read-only, or ``out`` is X, shares memory with it or is (or maps) X's file.
        A parameter of the wrong type or range raises scikit-learn's
        ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``) naming it.
    TypeError
        If ``out`` is an array whose dtype is not a floating-point one (the codes would
        be truncated).

    See Also
    --------
    transform_dask : The same on a dask cluster, a lazy dask array of codes.
    dask_from_npy : An ``.npy`` file as a dask array, for :func:`transform_dask`.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skl0 import L0Encoder
    >>> from skl0.parallel import transform_batches
    >>> rng = np.random.RandomState(0)
    >>> enc = L0Encoder(n_components=8, route="ols", device="cpu", random_state=0)
    >>> enc = enc.fit(rng.randn(50, 5))
    >>> tmp = tempfile.mkdtemp()
    >>> X = np.lib.format.open_memmap(os.path.join(tmp, "X.npy"), mode="w+",
    ...                               dtype=np.float32, shape=(3000, 5))
    >>> X[:] = rng.randn(3000, 5)
    >>> X.flush()
    >>> X = np.load(os.path.join(tmp, "X.npy"), mmap_mode="r")
    >>> codes = transform_batches(enc, X, os.path.join(tmp, "codes.npy"), batch_size=1000)
    >>> codes.shape, codes.dtype
    ((3000, 8), dtype('float32'))
    >>> np.array_equal(codes, enc.transform(np.asarray(X)))
    True
    >>> del X, codes
    >>> import shutil; shutil.rmtree(tmp)
    """
    X = _check_2d(X)
    n, n_features = X.shape
    dtype = _out_dtype(X.dtype)
    p, _ = _n_codes(encoder, n_features, dtype)
    if batch_size is None:
        batch_size = max(1024, _BATCH_BYTES // ((n_features + p) * dtype.itemsize))
    batch_size = int(batch_size)

    out_path = None
    if out is None:
        out = np.empty((n, p), dtype=dtype)
    elif isinstance(out, str | os.PathLike):
        out_path = Path(out)
        _refuse_input_file(X, out_path)
    elif not hasattr(out, "shape"):
        raise ValueError(f"out must be None, a path or an array to fill in place, got "
                         f"{type(out).__name__}")
    elif tuple(out.shape) != (n, p):
        raise ValueError(f"out has shape {tuple(out.shape)}, the codes have {(n, p)}")
    elif hasattr(out, "flags") and not out.flags.writeable:
        raise ValueError("out is read-only")
    else:
        _check_out_array(X, out)

    if out_path is None:
        _encode_batches(encoder, X, out, None, dtype, p, batch_size)
        return out
    tmp_path = _new_file_beside(out_path)
    try:
        offset = _write_npy_header(tmp_path, dtype, (n, p))
        _encode_batches(encoder, X, None, (str(tmp_path), offset), dtype, p, batch_size)
        os.replace(tmp_path, out_path)
        tmp_path = None
    finally:
        if tmp_path is not None:  # an error halfway: no partial file is left behind
            with contextlib.suppress(OSError):
                os.unlink(tmp_path)
    return np.load(out_path, mmap_mode="r+")


def _encode_batches(encoder, X, out, dst, dtype, p, batch_size):
    """Write ``encoder.transform`` of ``X``'s batches into ``dst`` (``(file, offset)`` of
    the codes, in ``dtype``) when given, else into the array ``out``."""
    n, n_features = X.shape
    src = _whole_file_map(X)
    if dst is None:
        dst = _whole_file_map(out, modes=("r+", "w+"))
    in_row = n_features * X.dtype.itemsize
    buffer = np.empty((batch_size, n_features), dtype=X.dtype) if src else None
    with (open(src[0], "rb", buffering=0) if src else _nothing()) as fin, \
            (open(dst[0], "r+b", buffering=0) if dst else _nothing()) as fout:
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if src:
                rows = buffer[:stop - start]
                fin.seek(src[1] + start * in_row)
                _read_exactly(fin, memoryview(rows).cast("B"))
            else:
                rows = np.asarray(X[start:stop])
            codes = np.asarray(encoder.transform(rows), dtype=dtype if out is None
                               else out.dtype)
            if dst is not None:
                fout.seek(dst[1] + start * p * codes.dtype.itemsize)
                _write_all(fout, np.ascontiguousarray(codes))
            else:
                out[start:stop] = codes


def _file_of(a):
    """The file an array maps (a ``numpy.memmap`` or a view of one), else ``None``."""
    while a is not None:
        name = getattr(a, "filename", None)
        if isinstance(name, str | os.PathLike):
            return name
        a = getattr(a, "base", None)
    return None


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def _refuse_input_file(X, path):
    """Refuse an output path that is the file ``X`` maps: writing would destroy it."""
    source = _file_of(X)
    if source is not None and _same_file(source, path):
        raise ValueError(f"out={os.fspath(path)!r} is the file X is read from; writing the "
                         "codes there would destroy X: choose another path")


def _check_out_array(X, out):
    """Refuse an output array of a non-float dtype, or one that is, shares memory with or
    maps the file of ``X`` (each batch written would overwrite rows still to be read)."""
    kind = np.dtype(getattr(out, "dtype", None)).kind
    if kind != "f":
        raise TypeError(f"out has dtype {np.dtype(out.dtype)}, which would truncate the codes; "
                        "give an array of a floating-point dtype (float32 or float64)")
    if out is X:
        raise ValueError("out is X itself; the codes would overwrite the rows still to be "
                         "read: give another array")
    if isinstance(out, np.ndarray) and isinstance(X, np.ndarray):
        try:
            shared = np.shares_memory(out, X, max_work=10_000)
        except np.exceptions.TooHardError:  # undecided: refused as shared
            shared = True
        if shared:
            raise ValueError("out shares memory with X; the codes would overwrite the rows "
                             "still to be read: give an array of its own")
    source, target = _file_of(X), _file_of(out)
    if source is not None and target is not None and _same_file(source, target):
        raise ValueError(f"out maps the file X is read from ({os.fspath(source)!r}); the "
                         "codes would overwrite it: give an array of another file")


def _new_file_beside(path):
    """A new, empty file in ``path``'s folder under a hidden temporary name (created with
    the permissions of a plain ``open``, so the renamed result has them too)."""
    path = Path(path)
    while True:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _read_exactly(f, view):
    got = 0
    while got < len(view):
        k = f.readinto(view[got:])
        if not k:
            raise OSError("the file ended before the rows its memory map has")
        got += k


def _write_all(f, array):
    view = memoryview(array).cast("B")
    while len(view):
        view = view[f.write(view):]


def _write_npy_header(path, dtype, shape):
    """Write an ``.npy`` header for a C-ordered array and size the file; return the offset
    of the data (the rows are then written in place, nothing is mapped)."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": tuple(shape)}
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        offset = f.tell()
        f.truncate(offset + int(np.prod(shape)) * np.dtype(dtype).itemsize)
    return offset


def _encode_block(block, encoder):
    return encoder.transform(block)


@validate_params(
    {
        "encoder": [HasMethods(["transform"])],
        "X": ["array-like"],
        "client": [HasMethods(["scatter"]), None],
    },
    prefer_skip_nested_validation=True,
)
def transform_dask(encoder, X, *, client=None):
    """A lazy dask array of ``encoder.transform(X)``, one ``transform`` per row chunk.

    Parameters
    ----------
    encoder : fitted transformer
        A fitted skl0 encoder (or any fitted object with ``transform``).
    X : dask array or array-like of shape (n_samples, n_features)
        Chunked along the rows (column chunks are merged first). An ndarray or a memory
        map is wrapped with :func:`dask.array.from_array` in chunks of 65,536 rows.
    client : distributed.Client, default=None
        Where the encoder is scattered (once, to every worker) before the chunks use it.
        By default the active client if there is one; without any, the encoder is one key
        of the graph, which dask's local scheduler shares between its threads.

    Returns
    -------
    codes : dask.array.Array of shape (n_samples, n_codes)
        Lazy: ``.compute()`` it, or write it chunk by chunk with
        :func:`dask.array.to_npy_stack`, ``to_zarr`` or :func:`dask.array.store`.

    Raises
    ------
    ValueError
        If X is not 2-d. A parameter of the wrong type raises scikit-learn's
        ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``) naming it.

    See Also
    --------
    transform_batches : The same on one machine, batch by batch into an array or file.
    dask_from_npy : An ``.npy`` file as a dask array whose chunks the workers read.
    dask_to_npy : Write the lazy codes into one ``.npy`` file.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da  # doctest: +SKIP
    >>> from skl0 import L0Encoder
    >>> from skl0.parallel import transform_dask
    >>> X = np.random.RandomState(0).randn(5000, 6)
    >>> enc = L0Encoder(n_components=8, max_epochs=0, device="cpu").fit(X[:100])
    >>> codes = transform_dask(enc, da.from_array(X, chunks=(1000, 6)))  # doctest: +SKIP
    >>> codes.chunks[0]  # doctest: +SKIP
    (1000, 1000, 1000, 1000, 1000)
    >>> np.array_equal(codes.compute(), enc.transform(X))  # doctest: +SKIP
    True
    """
    import dask
    import dask.array as da

    if not isinstance(X, da.Array):
        X = da.from_array(X, chunks=(65536, -1))
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got {X.ndim} dimensions")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    p, dtype = _n_codes(encoder, X.shape[1], _out_dtype(X.dtype))
    if client is None:
        try:
            from distributed import default_client
            client = default_client()
        except (ImportError, ValueError):
            client = None
    if client is not None:
        model = client.scatter(encoder, broadcast=True, hash=False)
    else:
        model = dask.delayed(encoder, pure=True)
    return X.map_blocks(_encode_block, model, dtype=dtype, chunks=(X.chunks[0], (p,)),
                        meta=np.empty((0, 0), dtype=dtype))


class _NpyRows:
    """Row blocks of a C-ordered ``.npy`` file, for :func:`dask.array.from_array` and
    :func:`dask.array.store`: pickles as its path, reads and writes by file offset."""

    def __init__(self, path):
        self.path = os.fspath(path)
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(f)
            self.offset = f.tell()
        if fortran or len(shape) != 2:
            raise ValueError(f"{self.path}: a C-ordered 2-d array is needed, got shape "
                             f"{shape}{' in Fortran order' if fortran else ''}")
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), 2
        self.row_bytes = self.shape[1] * self.dtype.itemsize

    def _rows(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise IndexError("only contiguous row slices are supported")
        start, stop, _ = rows.indices(self.shape[0])
        return start, max(stop, start), cols

    def __getitem__(self, key):
        start, stop, cols = self._rows(key)
        out = np.empty((stop - start, self.shape[1]), dtype=self.dtype)
        with open(self.path, "rb", buffering=0) as f:
            f.seek(self.offset + start * self.row_bytes)
            _read_exactly(f, memoryview(out).cast("B"))
        return out[:, cols]

    def __setitem__(self, key, value):
        start, stop, cols = self._rows(key)
        if cols != slice(None) and cols != slice(0, self.shape[1]):
            raise IndexError("whole rows only")
        value = np.ascontiguousarray(value, dtype=self.dtype).reshape(stop - start, -1)
        with open(self.path, "r+b", buffering=0) as f:
            f.seek(self.offset + start * self.row_bytes)
            _write_all(f, value)


@validate_params(
    {
        "path": [str, os.PathLike],
        "chunk_rows": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def dask_from_npy(path, chunk_rows=65536):
    """An ``.npy`` file as a dask array whose row chunks the workers read from the file.

    Parameters
    ----------
    path : str or path
        A C-ordered 2-d ``.npy`` file, on a file system the workers see (the same
        machine, or a shared one).
    chunk_rows : int, default=65536
        Rows per chunk (65,536 rows of 256 float32 features are 64 MiB).

    Returns
    -------
    X : dask.array.Array of shape (n_samples, n_features)
        Lazy; each chunk is read with a file read when a task needs it. The graph holds
        the path, not the data.

    Raises
    ------
    ValueError
        If the file does not hold a C-ordered 2-d array.

    See Also
    --------
    dask_to_npy : The other way: a dask array into one ``.npy`` file.
    transform_dask : Encode the array's chunks on the workers.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skl0.parallel import dask_from_npy
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, np.arange(12.0).reshape(6, 2))
    >>> X = dask_from_npy(path, chunk_rows=4)  # doctest: +SKIP
    >>> X.chunks, float(X.sum().compute())  # doctest: +SKIP
    (((4, 2), (2,)), 66.0)
    """
    import dask.array as da

    rows = _NpyRows(path)
    return da.from_array(rows, chunks=(int(chunk_rows), -1), asarray=False, fancy=False,
                         name=f"npy-{os.path.basename(rows.path)}-{os.stat(rows.path).st_mtime_ns}",
                         meta=np.empty((0, 0), dtype=rows.dtype))


@validate_params(
    {"X": ["array-like"], "path": [str, os.PathLike]},
    prefer_skip_nested_validation=True,
)
def dask_to_npy(X, path, **compute_kwargs):
    """Write a dask array into one ``.npy`` file, each task writing its own rows.

    Nothing is gathered on the caller: with a ``distributed`` client, the workers write
    their chunks into the file (which they must see: the same machine or a shared file
    system).

    Parameters
    ----------
    X : dask.array.Array or array-like of shape (n_samples, n_columns)
        E.g. the codes of :func:`transform_dask`. Other arrays are wrapped with
        :func:`dask.array.from_array`.
    path : str or path
        The ``.npy`` file to create (replaced if it exists).
    **compute_kwargs
        Passed to :func:`dask.array.store` (e.g. ``scheduler="threads"``).

    Returns
    -------
    codes : numpy.memmap
        The file, opened with ``mmap_mode="r"``.

    Raises
    ------
    ValueError
        If X is not 2-d.

    See Also
    --------
    dask_from_npy : The other way: an ``.npy`` file as a dask array.
    transform_dask : The lazy codes this writes.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skl0.parallel import dask_to_npy
    >>> import dask.array as da  # doctest: +SKIP
    >>> path = os.path.join(tempfile.mkdtemp(), "codes.npy")
    >>> X = da.from_array(np.arange(12.0).reshape(6, 2), chunks=(4, 2))  # doctest: +SKIP
    >>> dask_to_npy(X, path).tolist()  # doctest: +SKIP
    [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0], [8.0, 9.0], [10.0, 11.0]]
    """
    import dask.array as da

    if not isinstance(X, da.Array):
        X = da.from_array(_check_2d(X), chunks=(65536, -1))
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got {X.ndim} dimensions")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    _write_npy_header(path, X.dtype, X.shape)
    da.store(X, _NpyRows(path), lock=False, **compute_kwargs)
    return np.load(path, mmap_mode="r")
