"""Tables of the experiments: CSV files, Markdown tables, figures, and the results page.

The experiments write their rows as CSV (:func:`write_csv`) and Markdown; the
documentation's results page is regenerated from committed CSV files by
``python -m skl0 report`` (:func:`update_page`): every block of the page that opens with
``<!-- csv: FILE -->`` (a CSV file of the page's folder ``tables/``; ``as table1``,
``as table2`` or ``as table3`` after the name for the rows that ``reproduce table1-3``
writes) and closes with ``<!-- end csv -->`` is replaced by the table of that file, so the
page's numbers are those of the files.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

#: The columns of the CSV that ``reproduce table1|table2|table3`` writes, one row per
#: (p, method).
CODES_FIELDS = [
    "experiment", "dataset", "n_components", "method", "kind", "n_iter",
    "prediction_error_pct", "support_error", "objective_mean", "nnz_mean",
    "train_prediction_error_pct", "fit_s", "encode_s", "epochs", "n_train", "n_test", "alpha",
    "n_nonzero_coefs", "seed", "settings",
]

#: The paper's numbers (MNIST 60k/10k, 16×16), by table, method and p.
PAPER = {
    "table1": {
        "IHT (2 iterations)": (17.52, 18.73, 22.40),
        "IHT (5 iterations)": (8.14, 6.75, 9.37),
        "IHT (10 iterations)": (3.55, 4.33, 4.08),
        "Baseline encoder": (8.94, 8.76, 10.17),
        "Deep ℓ0 encoder": (0.92, 0.91, 0.81),
    },
    "table2": {
        "IHT (2 iterations)": (17.23, 19.27, 19.31),
        "IHT (5 iterations)": (10.84, 12.52, 12.40),
        "IHT (10 iterations)": (5.67, 5.44, 5.20),
        "Baseline encoder": (14.04, 16.76, 12.86),
        "Deep M-sparse encoder": (2.94, 2.87, 3.29),
    },
    "table3": {
        "IHT (2 iterations)": (10.8, 13.4, 13.2),
        "IHT (5 iterations)": (6.1, 8.0, 8.8),
        "IHT (10 iterations)": (4.6, 5.6, 5.3),
        "Deep M-sparse encoder": (2.2, 2.7, 2.7),
    },
}
PAPER_P = (128, 256, 512)

TITLES = {
    "table1": "Table 1 — prediction error (%) on the ℓ0-regularised problem (1)",
    "table2": "Table 2 — prediction error (%) on the M-sparse problem (2)",
    "table3": "Table 3 — averaged non-zero support error on the M-sparse problem (2)",
}

_DEEP = {"table1": "Deep ℓ0 encoder", "table2": "Deep M-sparse encoder",
         "table3": "Deep M-sparse encoder"}


# ------------------------------------------------------------------------------ files


def write_csv(path, rows, fields=None):
    """Write ``rows`` (dicts) to ``path`` with the columns ``fields`` (the first row's keys
    when None)."""
    fields = list(rows[0]) if fields is None else fields
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path):
    """``(header, rows)``: the column names and the rows (dicts of strings) of a CSV file."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def markdown_table(header, rows):
    """The lines of a Markdown table; cells are written with ``str``.

    >>> markdown_table(["a", "b"], [[1, 2.5]])
    ['| a | b |', '|---|---|', '| 1 | 2.5 |']
    """
    out = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def fmt(value, digits=2):
    """A number with ``digits`` decimals; empty values stay empty, other text as it is."""
    if value in ("", None):
        return ""
    try:
        return f"{float(value):.{digits}f}"
    except ValueError:
        return str(value)


# ----------------------------------------------------------------------- tables 1–3


def metric(experiment):
    """The CSV column a table reports: the support error for table3, else the error %."""
    return "support_error" if experiment == "table3" else "prediction_error_pct"


def _by_method(rows):
    methods = list(dict.fromkeys(r["method"] for r in rows))
    ps = sorted({int(r["n_components"]) for r in rows})
    return methods, ps, {(r["method"], int(r["n_components"])): r for r in rows}


def codes_markdown(experiment, dataset, rows, ps, header_lines):
    """The Markdown file that ``reproduce table1|table2|table3`` writes."""
    key = metric(experiment)
    methods, _, by = _by_method(rows)
    paper = PAPER[experiment]
    out = [f"# {TITLES[experiment]} — {dataset}", "", *header_lines, ""]
    unit = "support error" if experiment == "table3" else "error %"
    head = ["method"] + [f"{unit}, p={p}" for p in ps] + [f"paper p={p}" for p in PAPER_P]
    cells = []
    for m in methods:
        if experiment == "table3" and m.startswith("Baseline"):
            continue
        pv = paper.get(m)
        cells.append([m] + [fmt(by[(m, p)][key]) if (m, p) in by else "" for p in ps]
                     + ([f"{v:.2f}" for v in pv] if pv else [""] * len(PAPER_P)))
    out += markdown_table(head, cells)
    obj = "ℓ0 objective ½‖x − Da‖² + α‖a‖₀" if experiment == "table1" else "‖x − Da‖²"
    out += ["", f"Mean objective reached on the test set ({obj}), mean number of nonzeros, "
            "error on the training set (%), fit and encode time (s):", ""]
    head = ["method", "p", "objective", "nnz", "pred. error %", "support err.", "train error %",
            "fit s", "encode s", "iterations"]
    out += markdown_table(head, [
        [r["method"], r["n_components"], fmt(r["objective_mean"], 3), fmt(r["nnz_mean"], 1),
         fmt(r["prediction_error_pct"]), fmt(r["support_error"]),
         fmt(r["train_prediction_error_pct"]), fmt(r["fit_s"], 1), fmt(r["encode_s"], 3),
         r["n_iter"]] for r in rows])
    return "\n".join(out) + "\n"


def print_codes_table(experiment, rows, ps):
    """Print the error (or support error) and objective of every method at every p."""
    key = metric(experiment)
    methods, _, by = _by_method(rows)
    w = max(len(m) for m in methods) + 2
    unit = "support err." if experiment == "table3" else "error %"
    print(f"{'method':<{w}}" + "".join(f"{f'{unit} p={p}':>20}{'objective':>11}" for p in ps))
    for m in methods:
        line = f"{m:<{w}}"
        for p in ps:
            r = by.get((m, p))
            line += f"{fmt(r[key]):>20}{fmt(r['objective_mean'], 3):>11}" if r else " " * 31
        print(line)


def codes_reference(experiment, rows):
    """The lines of the results page for one CSV of table1-3: each method's error (or
    support error) and objective at every p beside the paper's, then for table1 and table2
    the deep encoder's and baseline's training error and fit time, and the deep encoder's
    factor over IHT-10 (the paper's beside it)."""
    key = metric(experiment)
    methods, ps, by = _by_method(rows)
    unit = "supp. err." if experiment == "table3" else "error %"
    head = ["method"] + [f"p={p}: {unit} (objective)" for p in ps]
    head.append("paper p=" + " / ".join(str(p) for p in PAPER_P))
    cells = []
    for m in methods:
        if experiment == "table3" and m.startswith("Baseline"):
            continue
        pv = PAPER[experiment].get(m)
        cells.append([m] + [f"{fmt(by[(m, p)][key])} ({fmt(by[(m, p)]['objective_mean'])})"
                            if (m, p) in by else "" for p in ps]
                     + [" / ".join(f"{v:.2f}" for v in pv) if pv else ""])
    out = markdown_table(head, cells)
    if experiment == "table3":
        return out
    first = rows[0]
    out += ["", f"{first['n_train']} train / {first['n_test']} test. Deep encoder and "
            "baseline, train error % / fit s per p:"]
    deep = _DEEP[experiment]
    for m in ("Baseline encoder", deep):
        out.append(f"- {m}: " + "; ".join(
            f"p={p} train {fmt(by[(m, p)]['train_prediction_error_pct'])} %, "
            f"fit {fmt(by[(m, p)]['fit_s'], 0)} s" for p in ps if (m, p) in by))
    iht10 = "IHT (10 iterations)"
    paper = PAPER[experiment]
    factors = [paper[iht10][i] / paper[deep][i] for i in range(len(PAPER_P))]
    ours = [float(by[(iht10, p)][key]) / float(by[(deep, p)][key]) for p in ps]
    out += ["", f"IHT-10 error over {deep} error (paper ≈ "
            + " / ".join(f"{f:.1f}" for f in factors) + "×): "
            + " / ".join(f"{f:.1f}×" for f in ours) + " at p = "
            + " / ".join(str(p) for p in ps) + "."]
    return out


def codes_figures(experiment, stem, rows, ps, out):
    """``<stem>_vs_p.png`` and ``<stem>_vs_iter.png`` in ``out`` (none without matplotlib)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:  # matplotlib is an optional dependency
        print("matplotlib is not installed: no figures")
        return []
    key = metric(experiment)
    ylabel = "support error" if experiment == "table3" else "prediction error (%)"
    methods = [m for m in dict.fromkeys(r["method"] for r in rows)
               if not m.startswith("Optimal")
               and not (experiment == "table3" and m.startswith("Baseline"))]
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for m in methods:
        pts = [(r["n_components"], r[key]) for r in rows if r["method"] == m]
        ax.plot(*zip(*pts, strict=True), marker="o", label=m)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ps, [str(p) for p in ps])
    ax.set_xlabel("dictionary size p")
    ax.set_ylabel(ylabel)
    ax.set_title(stem)
    ax.legend(fontsize="small")
    paths = [out / f"{stem}_vs_p.png"]
    fig.savefig(paths[0], dpi=120)

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for i, p in enumerate(ps):
        color = f"C{i}"
        pts = [(r["n_iter"], r[key]) for r in rows
               if r["n_components"] == p and r["method"].startswith("IHT (")
               and "iterations" in r["method"]]
        ax.plot(*zip(*pts, strict=True), marker="o", color=color, label=f"IHT, p={p}")
        for r in rows:
            if r["n_components"] == p and r["kind"] == "encoder":
                deep = r["method"].startswith("Deep")
                if not deep and experiment == "table3":
                    continue
                ax.scatter([r["n_iter"]], [r[key]], color=color, s=80,
                           marker="*" if deep else "s",
                           label=f"{'deep' if deep else 'baseline'}, p={p}")
    ax.set_xlabel("iterations (IHT) / stages or hidden layers (encoders)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{stem}: error against iterations")
    ax.legend(fontsize="x-small", ncol=2)
    paths.append(out / f"{stem}_vs_iter.png")
    fig.savefig(paths[1], dpi=120)
    return paths


# ------------------------------------------------------------------- the results page

_BLOCK = re.compile(r"(<!-- csv: (?P<name>\S+)(?: as (?P<view>table[123]))? -->\n)"
                    r"(?:(?!<!-- end csv -->)[^\n]*\n)*?(<!-- end csv -->)")


def render_table(path, view=None):
    """The Markdown lines of the CSV file ``path``: its columns and cells as they are, or,
    with ``view`` ("table1", "table2" or "table3"), :func:`codes_reference` of its rows."""
    header, rows = read_csv(path)
    if view is not None:
        return codes_reference(view, rows)
    return markdown_table(header, [[row[h] for h in header] for row in rows])


def render_page(text, folder):
    """``text`` with every ``<!-- csv: ... -->`` block filled from the files of ``folder``.

    Raises
    ------
    FileNotFoundError
        When a block names a file that ``folder`` does not hold.
    """
    def fill(match):
        lines = render_table(Path(folder) / match["name"], match["view"])
        return match.group(1) + "\n".join(lines) + "\n" + match.group(4)
    return _BLOCK.sub(fill, text)


def update_page(page="docs/results.md", folder=None, check=False):
    """Regenerate the tables of ``page`` from the CSV files of ``folder``.

    Parameters
    ----------
    page : str or path, default="docs/results.md"
    folder : str or path, optional
        The CSV files (default: the folder ``tables`` beside ``page``).
    check : bool, default=False
        Only compare: write nothing.

    Returns
    -------
    changed : bool
        Whether the page's tables differ from (with ``check``) or differed from the files.
    """
    page = Path(page)
    folder = page.parent / "tables" if folder is None else Path(folder)
    text = page.read_text(encoding="utf-8")
    new = render_page(text, folder)
    if new != text and not check:
        page.write_text(new, encoding="utf-8")
    return new != text
