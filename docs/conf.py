"""Sphinx configuration of skl0's documentation site.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` from the
repository root. The gallery runs every ``examples/plot_*.py`` once; the user guide's
figures of HELU and max-M pooling are drawn by :mod:`_figures` at each build.
"""

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # _figures.py lives beside this file

os.environ.setdefault("MPLBACKEND", "Agg")  # headless build

import _figures  # noqa: E402

import skl0  # noqa: E402

_figures.draw(HERE / "_generated")

project = "skl0"
author = "skl0 developers"
copyright = "skl0 developers, BSD-3-Clause"
release = skl0.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "**.ipynb_checkpoints"]

# API pages in scikit-learn's style: autosummary writes one page per object from
# _templates/autosummary; numpydoc renders the sections and lists each class's members
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = True
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False  # no intersphinx (the build runs offline)

# MyST: the Markdown pages and their heading anchors for #fragment links
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 4

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "doc_module": ("skl0",),
    "reference_url": {"skl0": None},
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "min_reported_time": 1,
    "show_memory": False,
    "write_computation_times": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"skl0 {release}"
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["custom.css"]
# the single pages have no section to navigate: their article takes the sidebar's room
html_sidebars = {page: [] for page in ("index", "install", "quickstart", "usage", "scaling",
                                       "results", "performance", "history")}
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}

copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True


# inherited scikit-learn methods (get_params, set_output, set_fit_request, score) point to
# labels and glossary terms of scikit-learn's own site, which this site does not have
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<([^`>]*)>)?`")


def _plain_sklearn_roles(app, what, name, obj, options, lines):
    """Turn ``:ref:`` / ``:term:`` roles of scikit-learn's docstrings into their text."""
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn"):
        lines[:] = [_SKLEARN_ROLE.sub(lambda m: m.group(1) or m.group(2), line)
                    for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_roles)
