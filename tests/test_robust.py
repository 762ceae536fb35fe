"""AdversarialTraining: each method trains for real on digits and beats standard training under PGD; metrics,
determinism, XLA, the .keras round trip (optimizer state included), export of the classifier, the catastrophic
overfitting check and bad arguments."""

import json

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf

import ganapps
from ganapps import attacks, nets
from ganapps.data import _digits_split
from _helpers import accuracy, run_python

EPS = 0.3


def _net(seed=0, softmax=False):
    model = nets.small_classifier((8, 8, 1), 10, width=16, hidden=64, dropout=0.0, seed=seed)
    if softmax:
        model = keras.Model(model.inputs, keras.layers.Softmax(name="probs")(model.outputs[0]))
    return model


def _game(method="pgd", seed=0, lr=5e-3, jit_compile=False, softmax=False, **kwargs):
    keras.utils.set_random_seed(seed)
    game = ganapps.AdversarialTraining(_net(seed, softmax), method=method, eps=EPS, seed=seed, **kwargs)
    game.compile(keras.optimizers.Adam(lr), jit_compile=jit_compile)
    return game


def _pgd_accuracy(model, x, y, eps=EPS):
    x_adv = attacks.pgd(model, x, y, eps, steps=10, clip_min=-1, clip_max=1, seed=3)
    return float(np.mean(np.argmax(model.predict(x_adv, verbose=0), -1) == y))


@pytest.fixture(scope="module")
def digits():
    x, y = _digits_split("train", None, 1)
    x_test, y_test = _digits_split("test", None, 1)
    return x[:800], y[:800], x_test[:200], y_test[:200]


@pytest.fixture(scope="module")
def trained(digits):
    """A PGD-trained game and a standard classifier, same net and epochs."""
    x, y, x_test, y_test = digits
    game = _game("pgd", steps=5)
    history = game.fit(x, y, batch_size=64, epochs=6, verbose=0, validation_data=(x_test, y_test))
    keras.utils.set_random_seed(0)
    standard = _net(0)
    standard.compile(keras.optimizers.Adam(5e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    standard.fit(x, y, batch_size=64, epochs=6, verbose=0)
    return game, history, standard


def test_pgd_training_is_robust_where_standard_training_is_not(trained, digits):
    game, history, standard = trained
    _, _, x_test, y_test = digits
    robust_pgd, standard_pgd = _pgd_accuracy(game.classifier, x_test, y_test), _pgd_accuracy(standard, x_test, y_test)
    assert accuracy(game.classifier, x_test, y_test) > 0.8
    assert standard_pgd < 0.3, standard_pgd
    assert robust_pgd > standard_pgd + 0.25, (robust_pgd, standard_pgd)
    # the epoch metrics: clean and adversarial accuracy, and validation's PGD accuracy, which rose while training
    h = history.history
    assert {"loss", "accuracy", "adv_accuracy", "val_accuracy", "val_adv_accuracy"} <= set(h)
    assert h["loss"][-1] < h["loss"][0]
    assert h["val_adv_accuracy"][-1] > h["val_adv_accuracy"][0] + 0.2
    assert h["val_adv_accuracy"][-1] < h["val_accuracy"][-1]
    assert abs(h["val_adv_accuracy"][-1] - robust_pgd) < 0.15  # the metric measures what pgd measures


@pytest.mark.parametrize("method", ["trades", "fast", "fgsm"])
def test_other_methods_train_and_raise_robustness(method, digits, trained):
    x, y, x_test, y_test = digits
    _, _, standard = trained
    game = _game(method, **({"steps": 3} if method == "trades" else {}))
    history = game.fit(x, y, batch_size=64, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert accuracy(game.classifier, x_test, y_test) > 0.75
    assert _pgd_accuracy(game.classifier, x_test, y_test) > _pgd_accuracy(standard, x_test, y_test) + 0.1


def test_same_seed_same_run_and_xla(digits):
    x, y, _, _ = digits
    runs, losses = [], []
    for jit in (False, False, True):
        game = _game("pgd", seed=4, steps=3, jit_compile=jit)
        history = game.fit(x[:128], y[:128], batch_size=64, epochs=2, verbose=0, shuffle=False)
        runs.append(game.classifier.get_weights())
        losses.append(history.history["loss"])
    for a, b in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(a, b)
    # XLA rounds differently and signed steps amplify that, so it is held to the same learning, not the same bits
    assert losses[2][1] < losses[2][0]
    np.testing.assert_allclose(losses[2], losses[0], rtol=0.1)


def test_probability_outputs_are_detected_and_train(digits):
    x, y, x_test, y_test = digits
    game = _game("fast", softmax=True)
    assert game._probabilities
    history = game.fit(x, y, batch_size=64, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert accuracy(game.classifier, x_test, y_test) > 0.6


def test_keras_round_trip_keeps_optimizer_state(trained, digits, tmp_path):
    game, _, _ = trained
    _, _, x_test, y_test = digits
    path = tmp_path / "robust.keras"
    game.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, ganapps.AdversarialTraining)
    assert (loaded.method, loaded.eps, loaded.steps, loaded.norm) == ("pgd", EPS, 5, "linf")
    assert int(loaded.optimizer.iterations) == int(game.optimizer.iterations) > 0
    for a, b in zip(game.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # the random stream resumes where it stopped, not from the seed
    np.testing.assert_array_equal(np.asarray(loaded.seed_generator.state), np.asarray(game.seed_generator.state))
    assert not np.array_equal(np.asarray(loaded.seed_generator.state),
                              np.asarray(keras.random.SeedGenerator(0).state))
    np.testing.assert_allclose(loaded.predict(x_test, verbose=0), game.predict(x_test, verbose=0), atol=1e-6)
    loaded.fit(x_test[:64], y_test[:64], batch_size=64, epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations) == int(game.optimizer.iterations) + 1


def test_export_classifier_matches_keras(trained, digits, tmp_path):
    game, _, _ = trained
    _, _, x_test, _ = digits
    metadata = game.export_classifier(tmp_path / "clf", formats=("onnx",))
    assert metadata["task"] == "classifier" and metadata["latent_dim"] is None
    assert metadata["adversarial_training"]["method"] == "pgd"
    assert metadata["parity_max_abs_error"]["onnx"] < 1e-4
    written = json.loads((tmp_path / "clf" / "metadata.json").read_text())
    assert written["classifier_outputs"] == "logits"
    session = ort.InferenceSession(str(tmp_path / "clf" / "model.onnx"))
    onnx_logits = session.run(None, {session.get_inputs()[0].name: x_test})[0]
    np.testing.assert_allclose(onnx_logits, game.classifier.predict(x_test, verbose=0), atol=1e-4)


class _Sabotage(keras.callbacks.Callback):
    """Zeroes the classifier at the end of one epoch: a collapse the check must catch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.classifier.set_weights([np.zeros_like(w) for w in self.model.classifier.get_weights()])


def test_catastrophic_overfitting_check_restores_last_good_weights(digits):
    x, y, x_test, y_test = digits
    game = _game("fast")
    check = ganapps.CatastrophicOverfittingCheck(x_test[:128], y_test[:128], eps=0.1, verbose=0)
    snapshots = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(game.classifier.get_weights()))
    history = game.fit(x, y, batch_size=64, epochs=4, verbose=0, callbacks=[record, _Sabotage(1), check])
    assert check.triggered == 1
    assert len(history.history["loss"]) == 2  # stopped after the collapse
    assert check.history[-1] < check.history[-2] - 0.2
    for restored, good in zip(game.classifier.get_weights(), snapshots[0]):
        np.testing.assert_array_equal(restored, good)
    assert history.history["pgd_check_accuracy"] == [check.history[1], check.history[1]]  # epoch 2: restored


def test_catastrophic_overfitting_check_quiet_on_healthy_training(digits):
    x, y, x_test, y_test = digits
    game = _game("fast")
    check = ganapps.CatastrophicOverfittingCheck(x_test[:128], y_test[:128], eps=0.1, every_batches=5, verbose=0)
    history = game.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[check])
    assert check.triggered is None and len(history.history["loss"]) == 2
    assert len(check.history) == 1 + 2 * (len(x) // 64 // 5) + 2
    assert check.history[-1] > check.history[0]


def test_bad_arguments_are_named(digits):
    x, y, _, _ = digits
    net = _net()
    cases = [
        (dict(method="madry"), "method"), (dict(method="fast", steps=5), "steps"),
        (dict(method="fgsm", norm="l2"), "norm"), (dict(eps=-0.1), "eps"), (dict(clean_weight=1.5), "clean_weight"),
        (dict(clip_min=1.0, clip_max=-1.0), "clip_max"), (dict(loss_from="scores"), "loss_from"),
        (dict(steps=0), "steps"),
    ]
    for kwargs, argument in cases:
        with pytest.raises(ValueError, match=f"^{argument}: expected"):
            ganapps.AdversarialTraining(net, **kwargs)
    with pytest.raises(ValueError, match="^classifier: expected"):
        ganapps.AdversarialTraining("net")
    game = ganapps.AdversarialTraining(net)
    with pytest.raises(ValueError, match="compile"):
        game.fit(x, y)
    with pytest.raises(ValueError, match="^loss: expected None"):
        game.compile("adam", loss="mse")
    game.compile("adam")
    with pytest.raises(ValueError, match=r"^x: expected a batch of inputs of shape \(n, 8, 8, 1\)"):
        game.fit(x.reshape(len(x), -1), y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"^x: expected values in the clip range"):
        game.fit(x * 3, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="^y: expected 800 integer class labels"):
        game.fit(x, y.astype("float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="^drop: expected"):
        ganapps.CatastrophicOverfittingCheck(x[:8], y[:8], drop=0)
    plain = _net()
    plain.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match="^model: expected an AdversarialTraining game"):
        plain.fit(x[:8], y[:8], epochs=1, verbose=0,
                  callbacks=[ganapps.CatastrophicOverfittingCheck(x[:8], y[:8])])


# -- the losses and attacks against their definitions --------------------------------------------------------
def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_losses_match_their_definitions(digits):
    x, y, _, _ = digits
    x, y = x[:32], y[:32]
    x_adv = np.clip(x + np.random.default_rng(0).uniform(-0.3, 0.3, x.shape), -1, 1).astype("float32")
    net = _net(5)
    clean, adv = net.predict(x, verbose=0).astype("float64"), net.predict(x_adv, verbose=0).astype("float64")
    ce_clean = -_log_softmax(clean)[np.arange(32), y].mean()
    ce_adv = -_log_softmax(adv)[np.arange(32), y].mean()
    kl = (np.exp(_log_softmax(clean)) * (_log_softmax(clean) - _log_softmax(adv))).sum(-1).mean()
    expected = {"pgd": ce_adv, "fast": ce_adv, "trades": ce_clean + 2.5 * kl, "fgsm": 0.3 * ce_clean + 0.7 * ce_adv}
    for method, want in expected.items():
        game = ganapps.AdversarialTraining(net, method=method, beta=2.5, clean_weight=0.3)
        loss, _, _ = game._loss(tf.constant(x), tf.constant(x_adv), tf.constant(y))
        assert float(loss) == pytest.approx(want, rel=1e-4), method


def test_training_attacks_match_their_definitions(digits):
    x, y, _, _ = digits
    x, y = x[:64], y[:64]
    net = _net(6)
    fgsm_game = ganapps.AdversarialTraining(net, method="fgsm", eps=0.2)
    np.testing.assert_allclose(fgsm_game._adversarial(tf.constant(x), tf.constant(y)).numpy(),
                               attacks.fgsm(net, x, y, 0.2, clip_min=-1, clip_max=1), atol=1e-6)
    fast = ganapps.AdversarialTraining(net, method="fast", eps=0.2, seed=1)._adversarial(tf.constant(x),
                                                                                       tf.constant(y)).numpy()
    inside = (fast > -1 + 1e-6) & (fast < 1 - 1e-6)
    assert np.abs(fast - x).max() <= 0.2 + 1e-6 and fast.min() >= -1 and fast.max() <= 1
    # a step of 1.25 eps from a uniform start, then projected: most unclipped pixels end on the ball's surface
    assert np.mean(np.isclose(np.abs(fast - x)[inside], 0.2, atol=1e-5)) > 0.5
    trades = ganapps.AdversarialTraining(net, method="trades", eps=0.2, steps=3, seed=1)
    point = trades._trades_point(tf.constant(x)).numpy()
    assert np.abs(point - x).max() <= 0.2 + 1e-6 and np.abs(point - x).mean() > 0.05


def test_eps_warmup_ramps_the_training_attack(digits):
    x, y, _, _ = digits
    game = ganapps.AdversarialTraining(_net(), method="fast", eps=0.3, eps_warmup=10, seed=0)
    game.compile("adam")
    shares = []
    for iterations in (0, 4, 9, 50):
        game.optimizer.iterations.assign(iterations)
        shares.append(float(game._warmup()))
    assert shares == pytest.approx([0.1, 0.5, 1.0, 1.0])
    game.optimizer.iterations.assign(4)
    x_adv = game._adversarial(tf.constant(x[:64]), tf.constant(y[:64]), game._warmup()).numpy()
    assert 0.1 < np.abs(x_adv - x[:64]).max() <= 0.15 + 1e-6
    assert ganapps.AdversarialTraining.from_config(game.get_config()).eps_warmup == 10


def test_eps_zero_round_trips(tmp_path):
    game = ganapps.AdversarialTraining(_net(), method="pgd", eps=0.0)
    game.compile("adam")
    game.save(tmp_path / "zero.keras")
    assert keras.models.load_model(tmp_path / "zero.keras").eps == 0.0


def test_mixed_precision_attacks_still_move(digits, monkeypatch):
    """Under mixed_float16 a confident net's input gradients underflow in float16 and signed steps stall; the
    attacks' loss scaling keeps them moving (the control without it shows the stall)."""
    x = digits[0][:64]
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        def confident_net():
            net = nets.small_classifier((8, 8, 1), 10, width=4, hidden=8, dropout=0.0, seed=0)
            kernel = net.get_layer("logits").kernel
            kernel.assign(kernel * 40.0)  # median margin ~13 on its own predictions
            return net, np.argmax(net.predict(x, verbose=0), -1).astype("int32")

        net, own = confident_net()
        scaled = attacks.fgsm(net, x, own, 0.1)
        game = ganapps.AdversarialTraining(net, method="fgsm", eps=0.1, clip_min=None, clip_max=None)
        np.testing.assert_allclose(game._adversarial(tf.constant(x), tf.constant(own)).numpy(), scaled, atol=1e-6)
        monkeypatch.setattr(attacks, "input_loss_scale", lambda model: 1.0)
        net, own = confident_net()
        unscaled = attacks.fgsm(net, x, own, 0.1)
        assert (scaled != x).mean() > 0.95 and (unscaled != x).mean() < 0.9, ((scaled != x).mean(),
                                                                               (unscaled != x).mean())
    finally:
        keras.mixed_precision.set_global_policy("float32")


MIRRORED = r"""
import json, numpy as np, tensorflow as tf
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
import keras, ganapps
from ganapps import nets
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (64, 6)).astype("float32"); y = (x[:, 0] > 0).astype("int32")
init = nets.small_classifier((6,), 2, width=4, hidden=8, seed=1).get_weights()

def run(strategy):
    with strategy.scope():
        game = ganapps.AdversarialTraining(nets.small_classifier((6,), 2, width=4, hidden=8, dropout=0.0, seed=1),
                                           method="fast", eps=0.2, seed=3)
        game.classifier.set_weights(init)
        game.compile(keras.optimizers.SGD(0.1))
    h = game.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(32), epochs=2, verbose=0).history
    return h["loss"], [w.tolist() for w in game.classifier.get_weights()]

print(json.dumps({"one": run(tf.distribute.OneDeviceStrategy("/cpu:0")),
                  "two": run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))}))
"""


def test_mirrored_strategy_matches_one_device():
    """Two replicas take their slices of one global draw of random starts, so the run is the one-device run."""
    proc = run_python(MIRRORED)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    (l1, w1), (l2, w2) = out["one"], out["two"]
    np.testing.assert_allclose(l1, l2, rtol=1e-4, atol=1e-5)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-4, atol=1e-5)
