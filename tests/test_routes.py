"""The routes of transform: each against a plain reference, the choice made at fit, and the
parameters transform reads."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skl0 import L0Classifier, L0Encoder, MSparseEncoder
from skl0._pursuit import pursuit
from skl0._routes import NetworkRoute, OLSRoute, PursuitRoute, fastest_within
from skl0.encoders import _BaseUnfoldedEncoder
from skl0.metrics import sparse_coding_objective

FAST = {"max_epochs": 3, "dict_max_iter": 2, "random_state": 0, "device": "cpu"}
WRAPPER = {"max_epochs": 2, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def digits():
    X = StandardScaler().fit_transform(load_digits().data)
    return X[:600], X[600:900]


def _dictionary(p=48, m=32, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((p, m)).astype(np.float32)
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def _ols_reference(x, D, *, M=None, alpha=None):
    """Orthogonal least squares, one sample, the slow way (float64): at each step try every
    atom, refit by least squares, keep the one with the lowest residual."""
    support, coef = [], np.zeros(0)
    resid = x.copy()
    while len(support) < (M if M is not None else D.shape[0]):
        best, best_j = resid @ resid, None
        for j in range(D.shape[0]):
            if j in support:
                continue
            S = support + [j]
            c = np.linalg.lstsq(D[S].T, x, rcond=None)[0]
            r = x - c @ D[S]
            if r @ r < best - 1e-12:
                best, best_j, best_c = r @ r, j, c
        gain = resid @ resid - best
        if best_j is None or (alpha is not None and 0.5 * gain <= alpha):
            break
        support, coef = support + [best_j], best_c
        resid = x - coef @ D[support]
    code = np.zeros(D.shape[0])
    code[support] = coef
    return code


@pytest.mark.parametrize("problem", [{"n_nonzero_coefs": 5}, {"alpha": 0.05}])
def test_ols_route_equals_the_plain_reference(problem):
    D = _dictionary()
    X = np.random.default_rng(1).standard_normal((30, 32))
    codes = OLSRoute(torch.from_numpy(D), **problem).encode(X, np.float64)
    ref = np.array([_ols_reference(x, D.astype(np.float64), M=problem.get("n_nonzero_coefs"),
                                   alpha=problem.get("alpha")) for x in X])
    np.testing.assert_array_equal(codes != 0, ref != 0)
    np.testing.assert_allclose(codes, ref, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("problem", [{"n_nonzero_coefs": 6}, {"alpha": 0.05}])
def test_compiled_ols_equals_the_batched_torch_route(problem):
    """The CPU's compiled loop and the batched torch code that runs on GPUs."""
    D = torch.from_numpy(_dictionary(p=64))
    X = np.random.default_rng(2).standard_normal((200, 32)).astype(np.float32)
    route = OLSRoute(D, **problem)
    compiled = route.encode(X, np.float32)
    batched = route(torch.from_numpy(X)).numpy()  # the torch route, as on a GPU
    assert (np.count_nonzero(compiled != 0) ==
            pytest.approx(np.count_nonzero(batched != 0), rel=0.01))
    same = np.all((compiled != 0) == (batched != 0), axis=1)
    assert same.mean() > 0.97  # float32 near-ties may go either way
    np.testing.assert_allclose(compiled[same], batched[same], rtol=1e-3, atol=1e-4)


def test_ols_route_equals_pursuit_over_every_atom():
    """The route is the pursuit's greedy step over all atoms (its correlations computed per
    row in the compiled loop instead of by one matrix product)."""
    D = torch.from_numpy(_dictionary(p=40))
    X = torch.from_numpy(np.random.default_rng(3).standard_normal((100, 32)).astype(np.float32))
    ref = pursuit(X, D, D @ D.T, torch.zeros(100, 40), n_nonzero_coefs=4, n_candidates=40,
                  n_rounds=0).numpy()
    codes = OLSRoute(D, n_nonzero_coefs=4).encode(X.numpy(), np.float32)
    np.testing.assert_allclose(codes, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: L0Encoder(n_components=48, alpha=0.1, route="ols", **FAST),
    lambda: MSparseEncoder(n_components=48, n_nonzero_coefs=6, route="ols", **FAST),
])
def test_a_rows_code_does_not_depend_on_the_other_rows(make, digits):
    """Permuted rows, one-row calls and odd chunkings give each row the same code, bit for
    bit (a batched product would round a row by its position and flip greedy near-ties)."""
    Xtr, Xte = digits
    enc = make().fit(Xtr)
    whole = enc.transform(Xte)
    order = np.random.default_rng(0).permutation(len(Xte))
    np.testing.assert_array_equal(enc.transform(Xte[order]), whole[order])
    np.testing.assert_array_equal(np.vstack([enc.transform(Xte[i:i + 1]) for i in range(60)]),
                                  whole[:60])
    chunks = np.vstack([enc.transform(part) for part in np.array_split(Xte, [7, 40, 41, 250])])
    np.testing.assert_array_equal(chunks, whole)
    np.testing.assert_array_equal(enc.transform(np.vstack([Xte, Xte]))[len(Xte):], whole)
    # float32 input and a Fortran-ordered copy: the same codes
    np.testing.assert_array_equal(enc.transform(np.asfortranarray(Xte)), whole)


def test_fastest_within_keeps_the_fastest_good_enough_route():
    report = {"ols": {"seconds_per_row": 2.0, "objective": 1.00},
              "pursuit": {"seconds_per_row": 1.0, "objective": 1.01},
              "network": {"seconds_per_row": 0.1, "objective": 2.5}}
    assert fastest_within(report, 0.02) == "pursuit"
    assert fastest_within(report, 0.005) == "ols"
    assert fastest_within(report, 2.0) == "network"
    assert fastest_within({"ols": report["ols"]}, 0.0) == "ols"
    # near a tie, "ols" stays: a route through the network must be clearly faster
    close = {**report, "pursuit": {"seconds_per_row": 1.8, "objective": 1.01}}
    assert fastest_within(close, 0.02) == "ols"


def test_route_ols_trains_no_network(digits):
    Xtr, Xte = digits
    enc = MSparseEncoder(n_components=48, n_nonzero_coefs=5, route="ols", **FAST).fit(Xtr)
    assert enc.route_ == "ols"
    assert not hasattr(enc, "net_") and not hasattr(enc, "history_")
    assert enc.fit_times_["targets"] == 0.0 and enc.fit_times_["training"] == 0.0
    codes = enc.transform(Xte)
    assert np.count_nonzero(codes, axis=1).max() == 5
    with pytest.raises(ValueError, match="route='network' runs the network, which this fit"):
        enc.set_params(route="network").transform(Xte)
    with pytest.raises(AttributeError, match="runs no network"):
        _ = L0Encoder(n_components=16, route="ols", **FAST).fit(Xtr).thresholds_


@pytest.mark.parametrize("could_win", [False, True])
def test_auto_trains_the_network_only_where_it_could_win(digits, monkeypatch, could_win):
    Xtr, Xte = digits
    monkeypatch.setattr(_BaseUnfoldedEncoder, "_network_could_win",
                        lambda self, probe, ols: could_win)
    enc = MSparseEncoder(n_components=48, n_nonzero_coefs=5, **FAST).fit(Xtr)
    report = enc.route_report_
    if could_win:
        assert set(report) == {"ols", "pursuit", "network"} and hasattr(enc, "net_")
        assert enc.route_ == fastest_within(report, enc.route_tol)
    else:
        assert set(report) == {"ols"} and enc.route_ == "ols"
        assert not hasattr(enc, "net_") and enc.fit_times_["training"] == 0.0
    for entry in report.values():
        assert entry["seconds_per_row"] > 0 and entry["objective"] > 0
    # the report's objective is the route's mean objective on the held-out rows
    assert report["ols"]["objective"] <= min(e["objective"] for e in report.values()) * 1.02


def test_auto_measures_the_network_against_an_honest_floor(digits):
    """Without patching: the choice is one of the routes, and a route that runs the network
    is chosen only where the network was trained and timed."""
    Xtr, _ = digits
    enc = L0Encoder(n_components=32, alpha=0.25, **FAST).fit(Xtr)
    assert enc.route_ in enc.route_report_
    assert hasattr(enc, "net_") == ("pursuit" in enc.route_report_)


def test_wrappers_train_the_network_whatever_the_route(digits):
    Xtr, _ = digits
    y = load_digits().target[:600]
    clf = L0Classifier(MSparseEncoder(n_components=32, n_nonzero_coefs=4, route="ols",
                                      **FAST), **WRAPPER).fit(Xtr, y)
    assert hasattr(clf.encoder_, "net_")
    # a frozen encoder fitted without its network gets one trained on the wrapper's data
    from sklearn.frozen import FrozenEstimator

    frozen = MSparseEncoder(n_components=32, n_nonzero_coefs=4, route="ols", **FAST).fit(Xtr)
    clf = L0Classifier(FrozenEstimator(frozen), **WRAPPER).fit(Xtr, y)
    assert hasattr(clf.encoder_, "net_") and not hasattr(frozen, "net_")
    np.testing.assert_array_equal(clf.encoder_.components_, frozen.components_)


def test_transform_reads_and_checks_its_parameters(digits):
    Xtr, Xte = digits
    enc = MSparseEncoder(n_components=32, n_nonzero_coefs=5, route="pursuit", **FAST).fit(Xtr)
    assert np.count_nonzero(enc.transform(Xte), axis=1).max() == 5
    # a route that reads M as it runs follows a new M; the network cannot
    enc.set_params(route="ols", n_nonzero_coefs=3)
    assert np.count_nonzero(enc.transform(Xte), axis=1).max() == 3
    with pytest.raises(ValueError, match="n_nonzero_coefs=3 was set after fit"):
        enc.set_params(route="pursuit").transform(Xte)
    enc.set_params(n_nonzero_coefs=5)
    with pytest.raises(ValueError, match="pursuit_rounds"):
        enc.set_params(pursuit_rounds=-1).transform(Xte)
    enc.set_params(pursuit_rounds=3, n_components=40)
    with pytest.raises(ValueError, match="n_components=40 was set after fit"):
        enc.transform(Xte)
    with pytest.raises(ValueError, match="n_components=40 was set after fit"):
        enc.partial_fit(Xte)
    enc.set_params(n_components=32, n_nonzero_coefs=6)
    with pytest.raises(ValueError, match="n_nonzero_coefs=6 was set after fit"):
        enc.partial_fit(Xte)
    enc.set_params(n_nonzero_coefs=5)
    with pytest.raises(ValueError, match="must not exceed n_components"):
        enc.set_params(route="ols", n_nonzero_coefs=33).transform(Xte)
    l0 = L0Encoder(n_components=32, alpha=0.1, route="network", **FAST).fit(Xtr)
    with pytest.raises(ValueError, match="alpha=0.5 was set after fit"):
        l0.set_params(alpha=0.5).transform(Xte)
    fewer = l0.set_params(route="ols").transform(Xte)  # least squares reads alpha
    more = l0.set_params(alpha=0.01).transform(Xte)
    assert np.count_nonzero(fewer) < np.count_nonzero(more)


def test_routes_encode_what_their_objects_say(digits):
    Xtr, Xte = digits
    enc = MSparseEncoder(n_components=32, n_nonzero_coefs=4, route="pursuit", **FAST).fit(Xtr)
    D = torch.as_tensor(enc.components_, dtype=torch.float32)
    module = enc.net_.module_
    for name, route in [("ols", OLSRoute(D, n_nonzero_coefs=4)),
                        ("pursuit", PursuitRoute(module, D, n_nonzero_coefs=4,
                                                 n_candidates=enc.n_candidates_, n_rounds=3)),
                        ("network", NetworkRoute(module))]:
        np.testing.assert_array_equal(enc.set_params(route=name).transform(Xte),
                                      route.encode(Xte, np.float64))
    value = sparse_coding_objective(Xte, enc.set_params(route="ols").transform(Xte),
                                    enc.components_)
    net_value = sparse_coding_objective(Xte, enc.set_params(route="network").transform(Xte),
                                        enc.components_)
    assert value < net_value



@pytest.mark.parametrize("route", ["ols", "pursuit", "network"])
@pytest.mark.parametrize("scale", [1e20, 1e-23])
def test_every_route_refuses_the_scales_fit_refuses(digits, route, scale):
    Xtr, Xte = digits
    with pytest.raises(ValueError) as info:
        MSparseEncoder(n_components=16, n_nonzero_coefs=3, **FAST).fit(Xtr * scale)
    enc = MSparseEncoder(n_components=16, n_nonzero_coefs=3, route=route, **FAST).fit(Xtr)
    with pytest.raises(ValueError) as again:
        enc.transform(Xtr * scale)
    assert str(again.value) == str(info.value)
    bad = Xte.copy()
    bad[5, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        enc.transform(bad)


def test_msparse_network_trains_on_the_residual(digits):
    """network_loss="residual": the problem's objective through max-M pooling, no optimal
    codes; the network alone comes closer to least squares than the untrained one, and
    given codes still train on codes."""
    import pickle

    Xtr, Xte = digits
    common = {"n_components": 32, "n_nonzero_coefs": 4, "route": "network",
              "dict_max_iter": 2, "random_state": 0, "device": "cpu"}
    untrained = MSparseEncoder(max_epochs=0, **common).fit(Xtr)
    D = untrained.components_
    enc = MSparseEncoder(dictionary=D, max_epochs=20, network_loss="residual",
                         **{k: v for k, v in common.items() if k != "n_components"}).fit(Xtr)
    assert enc.fit_times_["targets"] == 0.0 and enc.fit_times_["training"] > 0.0
    losses = enc.history_[:, "train_loss"]
    assert losses[-1] < losses[0]
    # the loss is the training rows' mean squared residual of the network's codes
    codes = enc.transform(Xtr)
    assert losses[-1] == pytest.approx(np.mean(np.sum((Xtr - codes @ D) ** 2, axis=1)),
                                       rel=0.15)
    assert np.count_nonzero(codes, axis=1).max() <= 4
    residual = sparse_coding_objective(Xte, enc.transform(Xte), D)
    assert residual < sparse_coding_objective(Xte, untrained.transform(Xte), D)
    # given codes are trained on (the mean squared error), whatever network_loss says
    given = MSparseEncoder(dictionary=D, max_epochs=2, network_loss="residual",
                           **{k: v for k, v in common.items() if k != "n_components"})
    given.fit(Xtr, codes=codes)
    assert given.history_[0, "train_loss"] < 1.0
    with pytest.raises(ValueError, match="trains on the residual"):
        enc.partial_fit(Xtr, codes=codes)
    enc.partial_fit(Xtr)  # one more epoch on the residual
    assert len(enc.history_) == 21
    again = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(again.transform(Xte), enc.transform(Xte))
    with pytest.raises(ValueError, match="network_loss"):
        MSparseEncoder(network_loss="l1", **common).fit(Xtr)
