"""The built documentation site as a reader sees it, in headless Chromium.

Needs the site built first (``python -m sphinx -W --keep-going -b html docs
docs/_build/html``, as ``.ci/run`` does) and, for the browser checks, Debian's ``chromium``;
each test says why it skips without them. Chromium loads the pages from the files
(``file://``), runs their scripts and prints the resulting DOM, which is what the checks
read: the index, the API page of :class:`~skl0.L0Encoder` and a gallery page with its
figures. Every internal link of the built HTML must point to a file of the build.
"""

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "docs" / "_build" / "html"
BUILD_COMMAND = "python -m sphinx -W --keep-going -b html docs docs/_build/html"
CHROMIUM = next((path for path in map(shutil.which, ("chromium", "chromium-browser")) if path),
                None)

needs_build = pytest.mark.skipif(
    not (BUILD / "index.html").is_file(),
    reason=f"docs/_build/html/index.html not built (run `{BUILD_COMMAND}`)")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)")


class _Links(HTMLParser):
    """Collects the ``href`` / ``src`` of every element, and the ``src`` of each ``<img>``."""

    def __init__(self):
        super().__init__()
        self.links, self.images, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])

    def handle_data(self, data):
        self.text.append(data)


def _parse(html):
    parser = _Links()
    parser.feed(html)
    return parser


def _chromium(args, tmp_path, timeout=90):
    """Run headless Chromium with a throw-away profile; its stdout as text."""
    command = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def _dom(page, tmp_path):
    """The DOM of a built page after Chromium has loaded it and run its scripts."""
    path = BUILD / page
    assert path.is_file(), f"{page} was not built"
    dom = _chromium(["--dump-dom", path.as_uri()], tmp_path)
    assert "<body" in dom, f"no DOM for {page}: {dom[:500]}"
    return dom


def _internal(link):
    """The path part of a link without a scheme, or None for external links and anchors."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return unquote(parts.path)


@needs_build
@needs_chromium
def test_index_renders(tmp_path):
    dom = _dom("index.html", tmp_path)
    text = " ".join(_parse(dom).text)
    for key in ("deep ℓ0 encoders for scikit-learn", "L0Encoder", "MSparseEncoder",
                "L0Classifier", "L0Clusterer", "Install", "Quick start", "User guide",
                "API reference", "Gallery of examples", "Results", "Performance", "History"):
        assert key in text, f"index.html does not show {key!r}"


@needs_build
@needs_chromium
def test_api_page_of_an_estimator_shows_parameters_attributes_methods(tmp_path):
    dom = _dom("generated/skl0.L0Encoder.html", tmp_path)
    text = " ".join(_parse(dom).text)
    for key in ("skl0.L0Encoder", "Parameters", "Attributes", "Methods", "n_components",
                "components_", "fit", "transform", "get_params", "partial_fit"):
        assert key in text, f"the L0Encoder page does not show {key!r}"


@needs_build
@needs_chromium
def test_gallery_page_shows_its_figures_and_output(tmp_path):
    page = "auto_examples/plot_encode_digits.html"
    dom = _dom(page, tmp_path)
    parsed = _parse(dom)
    text = " ".join(parsed.text)
    assert "Deep ℓ0 encoders against iterative hard thresholding and OMP" in text
    assert "deep encoder + pursuit" in text  # the script's printed table
    figures = [src for src in parsed.images if "sphx_glr_plot_encode_digits_" in src]
    assert len(figures) >= 2, parsed.images
    for src in figures:
        path = (BUILD / page).parent / _internal(src)
        assert path.is_file() and path.stat().st_size > 5000, src


@needs_build
@needs_chromium
def test_gallery_page_screenshot_is_not_blank(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    shot = tmp_path / "gallery.png"
    _chromium(["--window-size=1200,1600", f"--screenshot={shot}",
               (BUILD / "auto_examples" / "index.html").as_uri()], tmp_path)
    image = plt.imread(shot)
    assert image.shape[:2] == (1600, 1200), image.shape
    # a blank or unstyled page is one or two flat colours; a gallery has thumbnails
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 200


@needs_build
def test_every_public_name_has_an_api_page():
    import importlib

    import skl0

    pages = [path.stem for path in (BUILD / "generated").glob("skl0*.html")]
    missing = []
    for module_name in ("skl0", "skl0.sparse_coding", "skl0.datasets", "skl0.metrics",
                        "skl0.parallel", "skl0.persistence"):
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if module is skl0 and name == "__version__":
                continue  # a string, named on the API page
            obj = getattr(module, name)
            # a re-exported object has one page, under whichever module documents it
            if not any(stem.rsplit(".", 1)[1] == name
                       and getattr(importlib.import_module(stem.rsplit(".", 1)[0]), name,
                                   None) is obj
                       for stem in pages):
                missing.append(f"{module_name}.{name}")
    assert not missing, f"no API page for {missing}: add them to docs/api.rst"


@needs_build
def test_every_internal_link_resolves_to_a_built_file():
    # the theme's _static/ holds HTML templates of its own, not pages
    pages = sorted(path for path in BUILD.rglob("*.html")
                   if path.relative_to(BUILD).parts[0] != "_static")
    assert len(pages) > 20, len(pages)
    broken = []
    for page in pages:
        for link in _parse(page.read_text(encoding="utf-8")).links:
            path = _internal(link)
            if path is None:
                continue
            target = (BUILD / path.lstrip("/")) if path.startswith("/") else page.parent / path
            target = target.resolve()
            if not target.is_relative_to(BUILD.resolve()) or not target.exists():
                broken.append(f"{page.relative_to(BUILD)}: {link}")
    assert not broken, "\n".join(broken[:50])
