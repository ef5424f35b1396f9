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
