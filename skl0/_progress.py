"""Progress bars that stay readable in files: tqdm on a terminal, plain lines elsewhere.

Imports the standard library only (tqdm when a bar is made), so every module may use it.
"""

from __future__ import annotations

import re
import sys

_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class _PlainLines:
    """A text stream for tqdm that turns each refresh of a bar into one plain line.

    tqdm redraws a bar in place with carriage returns, and moves between nested bars with
    terminal escape codes; in a file or a pipe these come out as one long line with
    ``[A`` in it. Here the escape codes are dropped, every redraw ends a line, and a line
    equal to the previous one is not repeated.
    """

    def __init__(self, stream):
        self.stream = stream
        self._last = None

    def write(self, text):
        for line in _ESCAPE.sub("", text).replace("\r", "\n").split("\n"):
            line = line.rstrip()
            if line and line != self._last:
                self.stream.write(line + "\n")
                self._last = line

    def flush(self):
        self.stream.flush()

    def isatty(self):
        return False


def progress_bar(iterable=None, *, file=None, plain_interval=10.0, **kwargs):
    """A tqdm progress bar that prints plain lines when ``file`` is not a terminal.

    ``file`` defaults to ``sys.stderr`` (looked up at the call). On a terminal this is
    ``tqdm.auto.tqdm(iterable, file=file, **kwargs)``; in a file or a pipe (a log, a CI
    job, ``> out.txt 2>&1``) each redraw is one ASCII line, at most one every
    ``plain_interval`` seconds besides the first and the last. Keyword arguments are
    tqdm's (``total``, ``desc``, ``unit``, ``disable``, ``leave``, ``position``, ...).

    Examples
    --------
    >>> import io
    >>> from skl0._progress import progress_bar
    >>> log = io.StringIO()
    >>> for _ in progress_bar(range(3), desc="work", file=log, bar_format="{desc} {n}/{total}"):
    ...     pass
    >>> print(log.getvalue().strip())
    work 0/3
    work 3/3
    """
    from tqdm.auto import tqdm

    file = sys.stderr if file is None else file
    isatty = getattr(file, "isatty", None)
    if callable(isatty) and isatty():
        return tqdm(iterable, file=file, **kwargs)
    kwargs.setdefault("mininterval", plain_interval)
    kwargs.setdefault("ascii", True)
    kwargs.setdefault("ncols", 100)
    return tqdm(iterable, file=_PlainLines(file), **kwargs)
