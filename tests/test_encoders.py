import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skl0 import L0Encoder, LISTAEncoder, MSparseEncoder, iht
from skl0._problems import l0_objective
from skl0._solvers import spectral_norm_sq
from skl0._targets import optimal_codes
from skl0.metrics import code_prediction_error

FAST = {"max_epochs": 3, "dict_max_iter": 2, "solver_max_iter": 100, "random_state": 0,
        "device": "cpu"}
ENCODERS = [
    lambda **kw: L0Encoder(n_components=16, alpha=0.1, **{**FAST, "route": "pursuit", **kw}),
    lambda **kw: MSparseEncoder(n_components=16, n_nonzero_coefs=3,
                                **{**FAST, "route": "pursuit", **kw}),
    lambda **kw: LISTAEncoder(n_components=16, alpha=0.1, **{**FAST, **kw}),
]


def _net_only(enc):
    """The encoder with the network's own codes (no pursuit), where it has a pursuit."""
    return enc.set_params(route="network") if "route" in enc.get_params() else enc


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X[:400])
    return X, y[:400]


@pytest.fixture(scope="module")
def sparse_problem():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((16, 10))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    A = np.zeros((300, 16))
    for i in range(300):
        A[i, rng.choice(16, 3, replace=False)] = rng.uniform(1, 2, 3) * rng.choice([-1, 1], 3)
    return A @ D + 0.01 * rng.standard_normal((300, 10)), D


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("make", ENCODERS)
def test_untrained_encoder_equals_k_solver_iterations(make, sparse_problem, tied):
    X, D = sparse_problem
    enc = _net_only(make(dictionary=D, max_epochs=0, n_stages=3, tied_stages=tied)).fit(X)
    np.testing.assert_array_equal(enc.components_, D)
    if isinstance(enc, MSparseEncoder):
        ref = iht(X, D, n_nonzero_coefs=3, n_iter=3)
    elif isinstance(enc, L0Encoder):
        ref = iht(X, D, alpha=0.1, n_iter=3)
    else:
        step = 1.0 / spectral_norm_sq(torch.as_tensor(D))
        ref = np.zeros((len(X), 16))
        for _ in range(3):
            U = ref + step * (X - ref @ D) @ D.T
            ref = np.sign(U) * np.maximum(np.abs(U) - step * 0.1, 0)
    codes = enc.transform(X)
    close = np.isclose(codes, ref, rtol=1e-4, atol=1e-5)
    assert close.mean() > 0.999  # float32: a value exactly at a threshold may flip
    assert len(enc.history_) == 0


def test_l0_training_beats_iht_on_its_targets(sparse_problem):
    X, D = sparse_problem
    Xtr, Xte = X[:250], X[250:]
    enc = L0Encoder(dictionary=D, alpha=0.05, max_epochs=60, batch_size=32, lr=3e-3,
                    route="network", random_state=0, device="cpu").fit(Xtr)
    target = optimal_codes(torch.as_tensor(Xte, dtype=torch.float32),
                           torch.as_tensor(D, dtype=torch.float32), alpha=0.05).numpy()
    err_deep = code_prediction_error(target, enc.transform(Xte))
    err_iht2 = code_prediction_error(target, iht(Xte, D, alpha=0.05, n_iter=2))
    assert err_deep < 0.75 * err_iht2  # the untrained net (= IHT-2) improved by training
    loss = enc.history_[:, "train_loss"]
    assert loss[-1] < loss[0]
    assert np.isfinite(enc.thresholds_).all() and (enc.thresholds_ >= 0).all()
    # and its codes reach a low ℓ0 objective: well below IHT with the same 2 iterations
    obj = l0_objective(torch.as_tensor(Xte), torch.as_tensor(enc.transform(Xte)),
                       torch.as_tensor(D), 0.05).mean()
    obj2 = l0_objective(torch.as_tensor(Xte), torch.as_tensor(iht(Xte, D, alpha=0.05, n_iter=2)),
                        torch.as_tensor(D), 0.05).mean()
    assert obj < obj2
    # the pursuit over the net's candidates lowers it further
    with_pursuit = enc.set_params(route="pursuit").fit(Xtr).transform(Xte)
    obj3 = l0_objective(torch.as_tensor(Xte), torch.as_tensor(with_pursuit),
                        torch.as_tensor(D), 0.05).mean()
    assert obj3 < obj


def test_msparse_training_and_sparsity(digits):
    X, _ = digits
    enc = MSparseEncoder(n_components=32, n_nonzero_coefs=5, max_epochs=20, random_state=0,
                         device="cpu").fit(X)
    codes = enc.transform(X)
    assert codes.shape == (len(X), 32)
    assert np.count_nonzero(codes, axis=1).max() <= 5
    assert enc.n_nonzero_coefs_ == 5
    np.testing.assert_allclose(np.linalg.norm(enc.components_, axis=1), 1.0, rtol=1e-6)
    assert not hasattr(enc, "thresholds_")


def test_default_n_nonzero_coefs_is_ten_percent():
    X = np.random.default_rng(0).standard_normal((30, 5))
    assert MSparseEncoder(n_components=40, **FAST).fit(X).n_nonzero_coefs_ == 4
    assert MSparseEncoder(n_components=5, **FAST).fit(X).n_nonzero_coefs_ == 1


@pytest.mark.parametrize("make", ENCODERS)
def test_defaults_work_on_tiny_data(make):
    X = np.array([[0.5], [-1.0]])
    est = type(make())(max_epochs=2, device="cpu", random_state=0)
    codes = est.fit_transform(X)
    assert codes.shape == (2, 1) and np.isfinite(codes).all()


@pytest.mark.parametrize("make", ENCODERS)
def test_dtype_preserved_and_inverse_transform(make, digits):
    X, _ = digits
    enc = make().fit(X)
    for dt in (np.float32, np.float64):
        codes = enc.transform(X.astype(dt))
        assert codes.dtype == dt
        assert enc.inverse_transform(codes).shape == X.shape
    codes = enc.transform(X)
    np.testing.assert_allclose(enc.inverse_transform(codes), codes @ enc.components_)
    assert list(enc.get_feature_names_out())[:2] == [
        f"{type(enc).__name__.lower()}0", f"{type(enc).__name__.lower()}1"]


@pytest.mark.parametrize("make", ENCODERS)
def test_inputs_not_modified(make, sparse_problem):
    X, D = sparse_problem
    X0, D0 = X.copy(), D.copy()
    enc = make(dictionary=D).fit(X)
    enc.transform(X)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(D, D0)


@pytest.mark.parametrize("make", ENCODERS)
def test_fit_is_reproducible(make, digits):
    X, _ = digits
    a = make().fit(X).transform(X)
    b = make().fit(X).transform(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", ENCODERS)
def test_pickle_joblib_deepcopy_roundtrip(make, digits, tmp_path):
    import copy

    X, _ = digits
    enc = make().fit(X)
    ref = enc.transform(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(enc)).transform(X), ref)
    np.testing.assert_array_equal(copy.deepcopy(enc).transform(X), ref)
    path = tmp_path / "enc.joblib"
    joblib.dump(enc, path)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "ref.npy", ref)
    code = textwrap.dedent(f"""
        import joblib, numpy as np
        enc = joblib.load({str(path)!r})
        X = np.load({str(tmp_path / "X.npy")!r})
        np.testing.assert_array_equal(enc.transform(X), np.load({str(tmp_path / "ref.npy")!r}))
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_model_labelled_cuda_loads_on_cpu(digits, tmp_path):
    """The path a CUDA-fitted model takes on a CPU-only machine: its state maps the net to the
    CPU."""
    X, _ = digits
    enc = L0Encoder(n_components=8, route="pursuit", **FAST).fit(X)
    ref = enc.transform(X)
    enc.net_.device = "cuda"  # as if it had been fitted on a GPU
    path = tmp_path / "cuda_enc.pkl"
    with open(path, "wb") as f:
        pickle.dump(enc, f)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "ref.npy", ref)
    code = textwrap.dedent(f"""
        import pickle, warnings, numpy as np, torch
        torch.cuda.is_available = lambda: False
        enc = pickle.load(open({str(path)!r}, "rb"))
        assert str(enc.net_.device) == "cpu", enc.net_.device  # mapped, as documented
        X = np.load({str(tmp_path / "X.npy")!r})
        np.testing.assert_array_equal(enc.transform(X), np.load({str(tmp_path / "ref.npy")!r}))
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_loads_on_cpu_only_process(digits, tmp_path):
    X, _ = digits
    enc = L0Encoder(n_components=8, **{**FAST, "device": "cuda"}).fit(X)
    ref = enc.transform(X)
    path = tmp_path / "enc.pkl"
    with open(path, "wb") as f:
        pickle.dump(enc, f)
    np.save(tmp_path / "X.npy", X)
    code = textwrap.dedent(f"""
        import pickle, warnings, numpy as np
        warnings.simplefilter("ignore")
        enc = pickle.load(open({str(path)!r}, "rb"))
        np.save({str(tmp_path / "out.npy")!r}, enc.transform(np.load({str(tmp_path / "X.npy")!r})))
    """)
    # a process that sees no GPU; the rest of the environment (PYTHONPATH where skl0 or its
    # dependencies are not installed, as in benchmarks/gpu_check.sh) is kept
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), ref, rtol=1e-5, atol=1e-6)


def test_pipeline_and_gridsearch_parallel(digits):
    X, y = digits
    pipe = Pipeline([("scale", StandardScaler()),
                     ("enc", MSparseEncoder(n_components=16, **FAST)),
                     ("clf", LogisticRegression(max_iter=200))])
    grid = GridSearchCV(pipe, {"enc__n_nonzero_coefs": [2, 4], "enc__n_components": [16, 24]},
                        cv=2, n_jobs=2)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"enc__n_nonzero_coefs", "enc__n_components"}
    assert grid.best_score_ > 0.5
    l0 = GridSearchCV(Pipeline([("enc", L0Encoder(n_components=16, **FAST)),
                                ("clf", LogisticRegression(max_iter=200))]),
                      {"enc__alpha": [0.05, 0.2]}, cv=2, n_jobs=2).fit(X, y)
    assert l0.best_params_["enc__alpha"] in (0.05, 0.2)


@pytest.mark.parametrize("make", ENCODERS)
def test_clone_is_unfitted_with_same_params(make, digits):
    X, _ = digits
    enc = make().fit(X)
    c = clone(enc)
    assert c.get_params() == enc.get_params()
    assert not hasattr(c, "net_")


def test_divergence_is_caught_never_nan(digits):
    X, _ = digits
    enc = L0Encoder(n_components=16, optimizer="sgd", lr=1e6, max_epochs=5, random_state=0,
                    route="network",
                    device="cpu", solver_max_iter=50, dict_max_iter=2)
    with pytest.warns(ConvergenceWarning, match="diverged") as record:
        enc.fit(X)
    assert np.isfinite(enc.transform(X)).all()
    assert "optimizer='adam'" in str(record[0].message)  # advised only when not already Adam
    # with a validation split and early stopping the guard still has the last word
    enc.set_params(train_split=0.25, patience=2)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        enc.fit(X)
    assert np.isfinite(enc.transform(X)).all()


def test_optimizer_class_and_names(digits):
    X, _ = digits
    for opt in ("sgd", torch.optim.Adam):
        enc = L0Encoder(n_components=8, optimizer=opt, **FAST).fit(X)
        assert np.isfinite(enc.transform(X)).all()


def test_sigma_schedule_recorded(digits):
    X, _ = digits
    enc = L0Encoder(n_components=8, sigma=0.2, sigma_decay=10.0, route="network", **FAST).fit(X)
    np.testing.assert_allclose(enc.history_[:, "sigma"], [0.2, 0.02, 0.002])
    held = L0Encoder(n_components=8, route="network", **FAST).fit(X)
    np.testing.assert_allclose(held.history_[:, "sigma"], [0.2, 0.2, 0.2])


def test_verbose_prints_epoch_table(digits, capsys):
    X, _ = digits
    L0Encoder(n_components=8, verbose=1, route="network", **FAST).fit(X)
    out = capsys.readouterr()
    assert "train_loss" in out.out and "epoch" in out.out


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("make", ENCODERS)
@pytest.mark.parametrize(
    "X, exc, match",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError, "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), ValueError, "infinity"),
        (np.array([1.0, 2.0, 3.0]), ValueError, "2D array"),
        (np.empty((0, 3)), ValueError, "0 sample"),
        (np.array([["a", "b"], ["c", "d"]]), ValueError, "convert|string"),
        (np.ones((1, 3)), ValueError, "1 sample"),
    ],
)
def test_bad_fit_input(make, X, exc, match):
    with pytest.raises(exc, match=match):
        make().fit(X)


@pytest.mark.parametrize("make", ENCODERS)
@pytest.mark.parametrize("scale, match", [(1e-25, "too small"), (1e20, "too large")])
def test_fit_rejects_a_scale_beyond_float32(make, digits, scale, match):
    # 1e-25 used to end in torch's "cannot be converted to type float without overflow",
    # 1e20 in an infinite training loss
    X = digits[0][:60] * scale
    with pytest.raises(ValueError, match=f"{match} for float32.*rescale it"):
        make().fit(X)


@pytest.mark.parametrize("make", ENCODERS)
@pytest.mark.parametrize("scale", [1e-15, 1e15])
def test_fit_accepts_extreme_scales_within_float32(make, digits, scale):
    X = digits[0][:60] * scale
    codes = make(max_epochs=2).fit(X).transform(X)
    assert np.isfinite(codes).all()


def test_fit_rejects_a_given_dictionary_beyond_float32(digits):
    X = digits[0][:60]
    D = np.random.default_rng(0).standard_normal((8, X.shape[1]))
    with pytest.raises(ValueError, match="dictionary is too small for float32"):
        L0Encoder(dictionary=D * 1e-30, **FAST).fit(X)


def test_fit_accepts_all_zero_input():
    assert not L0Encoder(n_components=4, **FAST).fit(np.zeros((10, 3))).transform(
        np.zeros((2, 3))).any()


def test_sparse_input_rejected_clearly():
    import scipy.sparse as sp

    with pytest.raises(TypeError, match="toarray"):
        L0Encoder(**FAST).fit(sp.random(20, 5, density=0.5, format="csr", random_state=0))


@pytest.mark.parametrize("make", ENCODERS)
def test_wrong_n_features_at_transform(make, digits):
    X, _ = digits
    enc = make().fit(X)
    with pytest.raises(ValueError, match="features"):
        enc.transform(X[:, :10])
    with pytest.raises(ValueError, match="components"):
        enc.inverse_transform(np.ones((2, 3)))


def test_parameter_errors(sparse_problem):
    X, D = sparse_problem
    with pytest.raises(ValueError, match="n_nonzero_coefs"):
        MSparseEncoder(n_components=8, n_nonzero_coefs=9, **FAST).fit(X)
    with pytest.raises(ValueError, match="dictionary"):
        L0Encoder(dictionary=D[:, :5], **FAST).fit(X)
    with pytest.raises(ValueError, match="n_components"):
        L0Encoder(n_components=5, dictionary=D, **FAST).fit(X)
    with pytest.raises(ValueError, match="alpha"):
        L0Encoder(alpha=-1.0, **FAST).fit(X)
    with pytest.raises(ValueError, match="optimizer"):
        L0Encoder(optimizer="lbfgs-ish", **FAST).fit(X)
    with pytest.raises(TypeError, match="optimizer"):
        L0Encoder(optimizer=int, **FAST).fit(X)
    with pytest.raises(ValueError, match="device"):
        L0Encoder(**{**FAST, "device": "tpu"}).fit(X)
    with pytest.raises(ValueError, match="dictionary"):
        L0Encoder(dictionary=np.full((4, 10), np.nan), **FAST).fit(X)


def test_no_warnings_on_normal_fit(digits):
    X, _ = digits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        L0Encoder(n_components=8, **FAST).fit(X).transform(X)
    assert [str(w.message) for w in caught] == []


def test_paper_sigma_schedule_trains_past_float32_underflow(digits):
    X, _ = digits
    enc = L0Encoder(n_components=8, sigma_decay=10.0, route="network",
                    **{**FAST, "max_epochs": 50}).fit(X[:100])
    assert len(enc.history_) == 50  # no divergence stop (a ConvergenceWarning would fail here)
    assert np.isfinite(enc.history_[:, "train_loss"]).all()
    assert np.isfinite(enc.transform(X)).all()


def test_untied_stages_train_apart(sparse_problem):
    X, D = sparse_problem
    enc = L0Encoder(dictionary=D, alpha=0.1, n_stages=3, tied_stages=False, max_epochs=5,
                    route="network",
                    lr=1e-2, device="cpu", random_state=0).fit(X)
    S1, S2 = (S.weight.detach() for S in enc.net_.module_.S)
    assert not torch.allclose(S1, S2)
    assert enc.thresholds_.shape == (3, 16)
    assert not np.allclose(enc.thresholds_[0], enc.thresholds_[2])
    codes = enc.transform(X)
    assert codes.shape == (len(X), 16) and np.isfinite(codes).all()


@pytest.mark.parametrize("tied", [True, False])
def test_l1_stages_untrained_is_ista_then_iht_and_trains(sparse_problem, tied):
    X, D = sparse_problem
    alpha = 0.1
    enc = L0Encoder(dictionary=D, alpha=alpha, n_stages=3, l1_stages=1, tied_stages=tied,
                    route="network", **{**FAST, "max_epochs": 0}).fit(X)
    step, lam1 = enc.step_, np.sqrt(2 * alpha) / 2  # the l1 weight of the targets' start
    U = step * X @ D.T  # one ISTA step from zero ...
    start = np.sign(U) * np.maximum(np.abs(U) - step * lam1, 0)
    ref = iht(X, D, alpha=alpha, n_iter=2, init=start)  # ... then two IHT steps
    codes = enc.transform(X)
    assert np.isclose(codes, ref, rtol=1e-4, atol=1e-5).mean() > 0.999  # float32 thresholds
    assert not np.allclose(codes, iht(X, D, alpha=alpha, n_iter=3), atol=1e-3)
    assert enc.thresholds_.shape == (3, 16)  # one row per stage, tied or not
    np.testing.assert_allclose(enc.thresholds_[0], step * lam1, rtol=1e-6)
    np.testing.assert_allclose(enc.thresholds_[1:], np.sqrt(2 * alpha * step), rtol=1e-6)
    # trained, it stays a finite, sparse, picklable encoder whose stages are set apart
    enc = clone(enc).set_params(max_epochs=5, lr=1e-2).fit(X)
    codes = enc.transform(X)
    assert np.isfinite(codes).all() and (codes == 0).mean() > 0.3
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(enc)).transform(X), codes)
    assert enc.get_params()["l1_stages"] == 1


def test_l1_stages_errors(sparse_problem):
    X, _ = sparse_problem
    with pytest.raises(ValueError, match="l1_stages=2 must be less than n_stages=2"):
        L0Encoder(n_components=8, l1_stages=2, **FAST).fit(X)
    with pytest.raises(ValueError, match="l1_stages"):
        L0Encoder(n_components=8, l1_stages=-1, **FAST).fit(X)


def _last_quarter_split(dataset, y=None, **fit_params):
    """A skorch ``train_split`` that holds out the last quarter of the rows, in order."""
    n = len(dataset)
    cut = n - n // 4
    return (torch.utils.data.Subset(dataset, range(cut)),
            torch.utils.data.Subset(dataset, range(cut, n)))


@pytest.mark.parametrize("make", ENCODERS)
def test_validation_loss_is_transform_error_and_best_epoch_is_kept(make, digits):
    X, _ = digits
    # a large learning rate and no early stop: the validation loss goes up and down, and
    # the weights of its best epoch must be back in place when max_epochs ends the training
    enc = _net_only(make(max_epochs=12, lr=0.1, lr_decay=1.0, batch_size=16,
                         train_split=_last_quarter_split, patience=12)).fit(X)
    valid = np.asarray(enc.history_[:, "valid_loss"])
    assert len(valid) == 12
    assert np.argmin(valid) < len(valid) - 1  # otherwise the test checks no restoring
    train_batches = sum(b.get("train_batch_size", 0) for b in enc.history_[-1, "batches"])
    assert train_batches == 300
    Xt = torch.as_tensor(X.astype(np.float32))
    Ct = torch.as_tensor(enc.components_, dtype=torch.float32)
    targets = enc._targets(Xt, Ct).numpy()
    mse = np.mean((enc.transform(X[300:].astype(np.float32)) - targets[300:]) ** 2)
    assert mse == pytest.approx(valid.min(), rel=1e-4)


@pytest.mark.parametrize("make", ENCODERS)
def test_validation_fraction_is_seeded_and_stops_early(make, digits):
    X, _ = digits
    fits = [make(max_epochs=40, lr=0.1, batch_size=16, train_split=0.25, patience=2).fit(X)
            for _ in range(2)]
    for enc in fits:
        assert len(enc.history_) < 40
        assert sum(b.get("train_batch_size", 0) for b in enc.history_[-1, "batches"]) == 300
        assert sum(b.get("valid_batch_size", 0) for b in enc.history_[-1, "batches"]) == 100
    np.testing.assert_array_equal(fits[0].history_[:, "valid_loss"],
                                  fits[1].history_[:, "valid_loss"])
    np.testing.assert_array_equal(fits[0].transform(X), fits[1].transform(X))


@pytest.mark.parametrize("params, match", [
    ({"train_split": 1.0}, "train_split"),
    ({"train_split": 0}, "train_split"),
    ({"train_split": "0.2"}, "train_split"),
    ({"patience": 0}, "patience"),
    ({"patience": 1.5}, "patience"),
])
def test_validation_parameter_errors(params, match, sparse_problem):
    X, _ = sparse_problem
    with pytest.raises(ValueError, match=match):
        L0Encoder(8, **{**FAST, **params}).fit(X)


# ----------------------------------------------------------- given targets, partial_fit


@pytest.mark.parametrize("make", ENCODERS)
def test_fit_trains_on_given_target_codes(make, sparse_problem):
    X, D = sparse_problem
    untrained = _net_only(make(dictionary=D, max_epochs=0)).fit(X)
    own = untrained.transform(X)  # codes the untrained net already gives exactly
    enc = _net_only(make(dictionary=D, max_epochs=2, lr=1e-4)).fit(X, codes=own)
    computed = _net_only(make(dictionary=D, max_epochs=2, lr=1e-4)).fit(X)
    # the net starts at those targets (up to HELU_σ, the training form of HELU)
    assert enc.history_[0, "train_loss"] < 0.1 * computed.history_[0, "train_loss"]
    assert enc.fit_times_["targets"] == 0.0 < computed.fit_times_["targets"]
    # labels, as a Pipeline passes them, are ignored
    labels = np.arange(len(X)) % 3
    np.testing.assert_array_equal(make(dictionary=D).fit(X, labels).transform(X),
                                  make(dictionary=D).fit(X).transform(X))
    with pytest.raises(ValueError, match=r"codes has shape \(300, 5\)"):
        make(dictionary=D).fit(X, codes=np.zeros((300, 5)))


@pytest.mark.parametrize("make", ENCODERS)
def test_two_dimensional_y_is_ignored(make, sparse_problem):
    """A 2-D y (a multi-output task's targets) is ignored, even with n_components columns:
    target codes only come through ``codes``."""
    X, D = sparse_problem
    p = D.shape[0]
    targets = np.random.default_rng(0).standard_normal((len(X), p))
    with_y = _net_only(make(dictionary=D, max_epochs=2)).fit(X, targets)
    without = _net_only(make(dictionary=D, max_epochs=2)).fit(X)
    np.testing.assert_array_equal(with_y.transform(X), without.transform(X))
    np.testing.assert_array_equal(with_y.history_[:, "train_loss"],
                                  without.history_[:, "train_loss"])


def test_codes_reach_the_encoder_in_a_pipeline_by_metadata_routing(sparse_problem):
    """In front of a multi-output regressor the encoder ignores y; its target codes come
    through scikit-learn's metadata routing."""
    from sklearn import config_context
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    X, D = sparse_problem
    y = np.random.default_rng(1).standard_normal((len(X), 2))
    own = _net_only(L0Encoder(dictionary=D, alpha=0.1, max_epochs=0, device="cpu")).fit(X)
    codes = own.transform(X)
    with config_context(enable_metadata_routing=True):
        enc = L0Encoder(dictionary=D, alpha=0.1, max_epochs=2, lr=1e-4, route="network",
                        device="cpu", random_state=0).set_fit_request(codes=True)
        pipe = make_pipeline(enc, Ridge().set_fit_request(sample_weight=False))
        pipe.fit(X, y, codes=codes)
    fitted = pipe[0]
    direct = L0Encoder(dictionary=D, alpha=0.1, max_epochs=2, lr=1e-4, route="network",
                       device="cpu", random_state=0).fit(X, codes=codes)
    assert fitted.fit_times_["targets"] == 0.0
    np.testing.assert_array_equal(fitted.history_[:, "train_loss"],
                                  direct.history_[:, "train_loss"])
    assert pipe.predict(X).shape == (len(X), 2)


@pytest.mark.parametrize("make", ENCODERS[:2])
def test_partial_fit_over_chunks_reaches_fit(make, digits):
    X, _ = digits
    Xtr, Xte = X[:300], X[300:]
    ref = make(max_epochs=12, dict_max_iter=5).fit(Xtr)
    D = ref.components_
    full = _net_only(make(dictionary=D, max_epochs=12)).fit(Xtr)
    chunked = _net_only(make(dictionary=D))
    for _ in range(12):
        for chunk in np.array_split(Xtr, 3):
            chunked.partial_fit(chunk)
    assert len(chunked.history_) == 36  # one epoch per call
    np.testing.assert_array_equal(chunked.components_, D)

    def objective(enc):
        A = enc.transform(Xte)
        r = 0.5 * np.sum((Xte - A @ D) ** 2, axis=1)
        return np.mean(r + 0.1 * np.count_nonzero(A, axis=1))

    untrained = objective(_net_only(make(dictionary=D, max_epochs=0)).fit(Xtr))
    assert objective(chunked) < untrained
    assert objective(chunked) == pytest.approx(objective(full), rel=0.15)


def test_partial_fit_learns_the_dictionary_once(digits):
    X, _ = digits
    enc = MSparseEncoder(n_components=24, n_nonzero_coefs=3, dict_max_iter=2, random_state=0,
                         device="cpu")
    enc.partial_fit(X[:100])
    D = enc.components_.copy()
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0, rtol=1e-6)
    enc.partial_fit(X[100:200])
    np.testing.assert_array_equal(enc.components_, D)
    assert len(enc.history_) == 2 and enc.n_candidates_ == 6
    with pytest.raises(ValueError, match="features"):
        enc.partial_fit(X[:10, :20])
    assert np.count_nonzero(enc.transform(X[:5]), axis=1).max() <= 3


def test_verbose_shows_every_phase_of_fit(capfd):
    # the estimators' own phases: dictionary learning, optimal codes, training (skorch)
    from skl0 import L0Encoder

    X = np.random.RandomState(0).randn(60, 5)
    L0Encoder(8, alpha=0.05, max_epochs=2, dict_max_iter=1, random_state=0, device="cpu",
              route="network",
              verbose=1).fit(X)
    out, err = capfd.readouterr()
    assert "dictionary" in err and "optimal codes" in err
    assert "train_loss" in out


def test_l0encoder_alpha_0_warns_that_codes_are_dense():
    from skl0 import L0Encoder

    X = np.random.RandomState(0).randn(40, 5)
    with pytest.warns(UserWarning, match="alpha=0 .* dense"):
        L0Encoder(8, alpha=0, max_epochs=0, dict_max_iter=1, random_state=0,
                  device="cpu").fit(X)
