"""snninit.torch.diagnose and ``snninit diagnose`` against a hand-written snntorch loop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
nn = torch.nn
import snninit.torch as st  # noqa: E402
from snninit._dataset import load_dataset  # noqa: E402
from snninit.cli import main  # noqa: E402

pytestmark = pytest.mark.crosscheck


def _model(reset="subtract", width=200, layers=3, theta=0.8, beta=0.7):
    torch.manual_seed(5)
    mods = [snn.Leaky(beta=beta, threshold=theta, reset_mechanism=reset)]
    for _ in range(layers):
        mods += [
            nn.Linear(width, width, bias=False),
            snn.Leaky(beta=beta, threshold=theta, reset_mechanism=reset),
        ]
    return st.init_snntorch(nn.Sequential(*mods))


def _user_loop(model, x, steps):
    """How an snntorch user runs the model: explicit membranes, one call per layer."""
    leakies = [m for m in model if isinstance(m, snn.Leaky)]
    mems = [leaky.init_leaky() for leaky in leakies]
    out = {
        k: np.zeros((x.shape[0], len(leakies), steps))
        for k in ("var", "mean", "skew", "kurt", "spikes")
    }
    with torch.no_grad():
        for t in range(steps):
            h, i = x, 0
            for m in model:
                if isinstance(m, snn.Leaky):
                    h, mems[i] = m(h, mems[i])
                    u = mems[i].double().numpy()
                    out["var"][:, i, t] = u.var(axis=1)
                    out["mean"][:, i, t] = u.mean(axis=1)
                    out["skew"][:, i, t] = stats.skew(u, axis=1)
                    out["kurt"][:, i, t] = stats.kurtosis(u, axis=1)  # excess, biased
                    out["spikes"][:, i, t] = h.numpy().sum(axis=1)
                    i += 1
                else:
                    h = m(h)
    return out


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_diagnose_measures_what_a_user_loop_sees(reset):
    model = _model(reset)
    x = torch.randn(6, 200, generator=torch.Generator().manual_seed(8))
    steps = 7
    ds = st.diagnose(model, x, steps=steps, theory="none")
    ref = _user_loop(model, x, steps)
    assert ds["var_u"].dims == ("rep", "layer", "time")
    assert ds["layer"].values.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(ds["spikes"].values, ref["spikes"])
    np.testing.assert_allclose(ds["rate"].values, ref["spikes"] / 200, rtol=1e-12)
    np.testing.assert_allclose(ds["var_u"].values, ref["var"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ds["mean_u"].values, ref["mean"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ds["skew"].values, ref["skew"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ds["kurt"].values, ref["kurt"], rtol=1e-5, atol=1e-5)


def test_diagnose_leaves_the_model_untouched():
    model = _model()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    st.diagnose(model, torch.randn(3, 200), steps=4, theory="none")
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(m.mem.numel() == 0 for m in model if isinstance(m, snn.Leaky))


def test_a_time_major_sequence_equals_the_constant_input():
    model = _model()
    x = torch.randn(4, 200, generator=torch.Generator().manual_seed(9))
    a = st.diagnose(model, x, steps=5, theory="none")
    b = st.diagnose(model, x.expand(5, 4, 200), steps=None, theory="none")
    assert (a["spikes"] == b["spikes"]).all() and (a["var_u"] == b["var_u"]).all()


def test_a_silent_layer_has_zero_variance_and_undefined_shape_as_in_simulations():
    model = _model()
    with torch.no_grad():
        model[3].weight.zero_()  # layer 2 gets no input: membranes stay 0
    ds = st.diagnose(model, torch.randn(3, 200), steps=3, theory="none")
    silent = ds.sel(layer=[2, 3])
    for name in ("var_u", "mean_u", "spikes", "rate"):
        assert float(abs(silent[name]).max()) == 0.0
    # skewness and kurtosis of identical values are undefined: NaN, like run_network
    assert bool(silent["skew"].isnull().all()) and bool(silent["kurt"].isnull().all())
    alive = ds.sel(layer=[0, 1])
    assert not bool(alive["skew"].isnull().any()) and not bool(alive["kurt"].isnull().any())


def test_bad_input_is_refused():
    model = _model()
    with pytest.raises(ValueError, match="sample"):
        st.diagnose(model, torch.randn(200), steps=2)
    with pytest.raises(ValueError, match="finite"):
        st.diagnose(model, torch.full((2, 200), float("nan")), steps=2)
    with pytest.raises(ValueError, match="steps"):
        st.diagnose(model, torch.randn(2, 200), steps=0)
    with pytest.raises(ValueError, match="theory"):
        st.diagnose(model, torch.randn(2, 200), theory="exact")
    with pytest.raises(ValueError, match="rule must be one of"):
        st.diagnose(model, torch.randn(2, 200), rule="no-such-rule")
    with pytest.raises(ValueError, match="paths"):
        st.diagnose(model, torch.randn(2, 200), paths=0)
    with pytest.raises(ValueError, match="need rule="):
        st.diagnose(model, torch.randn(2, 200), xi=2.0)
    with pytest.raises(ValueError, match="no prediction"):
        st.diagnose(_model_without_encoding(), torch.randn(2, 200), theory="dmft")


def _model_without_encoding():
    return nn.Sequential(nn.Linear(200, 200), snn.Leaky(beta=0.5))


def test_the_command_line_writes_the_same_dataset(tmp_path, capsys):
    model = _model()
    path = st.save_model(model, tmp_path / "model.pt")
    out = tmp_path / "diag.nc"
    code = main(
        [
            "diagnose",
            str(path),
            "--normal",
            "5",
            "--seed",
            "3",
            "--steps",
            "4",
            "--theory",
            "none",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "spikes/step" in printed and "wrote" in printed
    ds = load_dataset(out)
    x = torch.randn((5, 200), generator=torch.Generator().manual_seed(3))
    direct = st.diagnose(model, x, steps=4, theory="none")
    np.testing.assert_array_equal(ds["spikes"].values, direct["spikes"].values)
    assert ds.attrs["kind"] == "diagnosis" and ds.attrs["init"] == "micheli"
    # a sample file works too
    np.save(tmp_path / "x.npy", x.numpy())
    assert (
        main(
            [
                "diagnose",
                str(path),
                "--sample",
                str(tmp_path / "x.npy"),
                "--steps",
                "4",
                "--theory",
                "none",
            ]
        )
        == 0
    )


def test_the_command_line_reports_user_errors_in_one_line(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path / "nope.pt"), "--normal", "2"]) == 2
    assert "no such model file" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    assert main(["diagnose", str(tmp_path / "junk.pt"), "--normal", "2"]) == 2
    assert "not an snninit model file" in capsys.readouterr().err
