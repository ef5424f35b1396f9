"""pytest collects the Markdown pages of docs/ for their doctests, nothing built or configured."""

# docs/conf.py and docs/_figures.py run the build's set-up when imported; the build outputs
# hold copies of the gallery scripts, which would run as modules
collect_ignore = ["docs/conf.py", "docs/_figures.py"]
collect_ignore_glob = ["docs/_build/*", "docs/_generated/*", "docs/auto_examples/*",
                       "docs/generated/*"]
