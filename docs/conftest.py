"""pytest collects the Markdown pages of docs/ for their doctests, nothing built or configured."""

# conf.py and _figures.py run the build's set-up when imported; the build outputs hold
# copies of the gallery scripts, which would run as modules
collect_ignore = ["conf.py", "_figures.py"]
collect_ignore_glob = ["_build/*", "_generated/*", "auto_examples/*", "generated/*"]
