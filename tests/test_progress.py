import pytest


@pytest.fixture(autouse=True)
def _no_thread_cap_from_the_environment(monkeypatch):
    # the thread counts asserted here are torch's; the cap that skl0 read from the
    # environment at import (OMP_NUM_THREADS=1 in a run of the suite) would lower them
    import skl0._threads

    monkeypatch.setattr(skl0._threads, "_CAP", None)


def test_progress_bar_prints_plain_lines_in_a_file():
    import io

    from skl0._progress import progress_bar

    log = io.StringIO()
    with progress_bar(total=2, desc="outer", file=log) as outer:
        for _ in range(2):
            for _ in progress_bar(range(3), desc="inner", position=1, leave=False, file=log,
                                  plain_interval=0):
                pass
            outer.update()
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].startswith("outer:") and lines[-1].startswith("outer: 100%")
    assert any(line.startswith("inner: 100%") for line in lines)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    for _ in progress_bar(range(2), desc="bar", file=term):
        pass
    assert "\r" in term.getvalue()  # tqdm's own redraws on a terminal


def test_more_atoms_than_samples_warns_and_verbose_shows_the_dictionary_step(capsys):
    import warnings

    import numpy as np
    import torch

    from skl0 import MSparseEncoder
    from skl0._dictionary import learn_dictionary

    X = torch.randn(20, 8, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match="n_components=40 exceeds the 20 training samples"):
        learn_dictionary(X, 40, alpha=0.1, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learn_dictionary(X, 20, alpha=0.1, max_iter=1)  # one atom per sample: no warning
    enc = MSparseEncoder(n_components=40, max_epochs=1, dict_max_iter=2, verbose=1,
                         random_state=0, device="cpu")
    with pytest.warns(UserWarning, match="the other 20 stay copies of samples"):
        enc.fit(X.numpy().astype(np.float64))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("dictionary:")]
    assert lines and lines[-1].startswith("dictionary: 100%") and "\x1b" not in err
