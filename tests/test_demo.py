from skl0.experiments.demo import run


def test_demo_tables_have_every_row_and_the_encoders_beat_iht_2():
    res = run(seed=0, device="cpu", max_epochs=3, verbose=False)
    names = [r[0] for r in res["l0"]]
    assert names[:3] == ["IHT (2 iterations)", "IHT (5 iterations)", "IHT (10 iterations)"]
    assert "Deep l0 encoder (K=2)" in names
    assert any(r[0] == "OMP (sklearn)" for r in res["msparse"])
    err = {r[0]: float(r[1]) for r in res["l0"]}
    assert err["Deep l0 encoder (K=2)"] < err["IHT (2 iterations)"]
    speed = {r[0]: float(r[2]) for r in res["speed"]}
    assert speed["sklearn sparse_encode (omp)"] == 1.0
    assert all(v > 0 for v in speed.values())
