"""Conditional games: label smoothing, ConditionalGAN, ACGAN, InfoGAN, their nets, labels, round trips, export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganapps import export, losses, nets, runtime
from ganapps.games.conditional import ACGAN, ConditionalGAN, InfoGAN, categorical_purity
from ganapps.games.gan import GAN

MEANS = np.array([[-0.6, -0.4], [0.6, -0.4], [0.0, 0.6]], "float32")


def _clusters(n=768, seed=0):
    """Three classes in 2-D, each a tight cluster around its mean."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype("int32")
    return (MEANS[y] + rng.normal(0, 0.08, (n, 2))).astype("float32"), y


def _nearest_mean(x):
    return ((np.asarray(x)[:, None, :] - MEANS[None]) ** 2).sum(-1).argmin(1)


def _adam():
    return keras.optimizers.Adam(2e-3, beta_1=0.5)


def _cgan(num_classes=3, condition_dim=None, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    width = num_classes or condition_dim
    return ConditionalGAN(nets.mlp_conditional_generator(4, width, 2, hidden=(32,)),
                          nets.mlp_conditional_discriminator(2, width, hidden=(32,)),
                          num_classes=num_classes, condition_dim=condition_dim, seed=seed, **kwargs)


def _acgan(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return ACGAN(nets.mlp_conditional_generator(4, 3, 2, hidden=(32,)),
                 nets.mlp_acgan_discriminator(2, 3, hidden=(32,)), num_classes=3, seed=seed, **kwargs)


def _infogan(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return InfoGAN(nets.mlp_conditional_generator(4, 4, 2, hidden=(32,), condition_name="codes"),
                   nets.mlp_infogan_discriminator(2, [3], 1, hidden=(32,)),
                   categorical_codes=[3], continuous_codes=1, seed=seed, **kwargs)


def _compile(game, **kwargs):
    game.compile(g_optimizer=_adam(), d_optimizer=_adam(), **kwargs)
    return game


# -- one-sided label smoothing ----------------------------------------------------------------------------------
def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


@pytest.mark.parametrize("name", ["minimax", "non_saturating", "least_squares"])
def test_label_smoothing_matches_the_closed_form(name):
    s = 0.15
    real = np.array([[2.0], [-0.5], [0.3], [4.0]], "float32")
    fake = np.array([[-1.0], [0.7], [-3.0], [0.1]], "float32")
    if name == "least_squares":
        want = 0.5 * np.mean((real - (1 - s)) ** 2) + 0.5 * np.mean(fake ** 2)
    else:  # cross-entropy with target 1 - s on real, 0 on fake; D = sigmoid(logit)
        d_real, d_fake = 1 / (1 + np.exp(-real)), 1 / (1 + np.exp(-fake))
        want = np.mean(-(1 - s) * np.log(d_real) - s * np.log(1 - d_real)) + np.mean(-np.log(1 - d_fake))
    got = losses.smoothed_discriminator_loss(name, s)(real, fake)
    np.testing.assert_allclose(float(got), want, rtol=1e-5)
    assert losses.smoothed_discriminator_loss(name, 0.0) is losses.get(name).discriminator_loss
    gan = GAN(nets.mlp_generator(2, 1, hidden=(4,)), nets.mlp_discriminator(1, hidden=(4,)), loss=name,
              label_smoothing=s)
    np.testing.assert_allclose(float(gan.d_adversarial_loss(real, fake)), want, rtol=1e-5)
    assert gan.get_config()["label_smoothing"] == s


def test_label_smoothing_enters_the_discriminator_update():
    """One SGD step on a logistic D = w x + b against a constant generator (fakes at 0): the gradient of the
    smoothed cross-entropy is mean((sigmoid(l_r) - (1 - s)) x_r) for w, plus mean(sigmoid(l_f)) for b."""
    s, lr = 0.2, 0.5
    z = keras.Input((1,))
    generator = keras.Model(z, keras.layers.Dense(1, kernel_initializer="zeros")(z))
    x_in = keras.Input((1,))
    discriminator = keras.Model(x_in, keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.3),
                                                         bias_initializer=keras.initializers.Constant(-0.1))(x_in))
    gan = GAN(generator, discriminator, loss="non_saturating", label_smoothing=s, seed=0)
    gan.compile(g_optimizer=keras.optimizers.SGD(lr), d_optimizer=keras.optimizers.SGD(lr))
    x = np.linspace(-1, 2, 8, dtype="float32")[:, None]
    gan.fit(x, batch_size=8, epochs=1, verbose=0)
    l_real, l_fake = 0.3 * x[:, 0] - 0.1, -0.1
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    grad_w = np.mean((sig(l_real) - (1 - s)) * x[:, 0])
    grad_b = np.mean(sig(l_real) - (1 - s)) + sig(l_fake)
    kernel, bias = discriminator.layers[-1].get_weights()
    np.testing.assert_allclose([kernel[0, 0], bias[0]], [0.3 - lr * grad_w, -0.1 - lr * grad_b], rtol=1e-5)


@pytest.mark.parametrize("loss", ["hinge", "wasserstein", "relativistic_average"])
def test_label_smoothing_refuses_losses_without_a_real_target(loss):
    with pytest.raises(ValueError, match=rf"label_smoothing: expected 0 for the '{loss}' loss.*got 0.1"):
        GAN(nets.mlp_generator(2, 1, hidden=(4,)), nets.mlp_discriminator(1, hidden=(4,)), loss=loss,
            label_smoothing=0.1)
    with pytest.raises(ValueError, match=r"label_smoothing: expected a number in \[0, 1\).*got 1.0"):
        losses.smoothed_discriminator_loss("minimax", 1.0)


# -- ConditionalGAN -------------------------------------------------------------------------------------------
def test_conditional_gan_generates_each_class_at_its_own_mean():
    x, y = _clusters()
    gan = _compile(_cgan())
    history = gan.fit(x, y, batch_size=64, epochs=15, verbose=0).history
    assert np.isfinite(history["d_loss"]).all()
    for k in range(3):
        samples = gan.generate(150, labels=k, seed=1)
        assert np.mean(_nearest_mean(samples) == k) > 0.9, k  # chance: 1/3
    # z alone (what SampleGrid feeds) cycles through the classes
    z = runtime.sample_normal(6, 4, seed=2)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gan(z)), gan.generate(6, labels=[0, 1, 2, 0, 1, 2], seed=2),
                               atol=1e-6)


def test_conditional_gan_follows_real_valued_attributes():
    """Attributes are the cluster's position itself, drawn anywhere in a box: the samples follow the attribute,
    including for attribute values never seen in training."""
    rng = np.random.default_rng(0)
    attributes = rng.uniform(-0.7, 0.7, (768, 2)).astype("float32")
    x = (attributes + rng.normal(0, 0.05, attributes.shape)).astype("float32")
    gan = _compile(_cgan(num_classes=None, condition_dim=2, fake_labels="shuffle"))
    gan.fit(x, attributes, batch_size=64, epochs=20, verbose=0)
    asked = np.random.default_rng(5).uniform(-0.6, 0.6, (200, 2)).astype("float32")
    samples = gan.generate(200, labels=asked, seed=3)
    error = np.linalg.norm(samples - asked, axis=1).mean()
    baseline = np.linalg.norm(samples - asked[::-1], axis=1).mean()  # the samples against other attributes
    assert error < 0.35 * baseline and error < 0.2, (error, baseline)


def test_conditional_gan_uniform_fake_labels_and_jit_compile():
    x, y = _clusters(256)
    gan = _compile(_cgan(fake_labels="uniform"), jit_compile=True)
    before = [w.copy() for w in gan.generator.get_weights()]
    history = gan.fit(x, y, batch_size=64, epochs=2, verbose=0).history
    assert gan.jit_compile is True and np.isfinite(history["d_loss"]).all()
    assert any(not np.allclose(a, b) for a, b in zip(before, gan.generator.get_weights()))


def test_conditional_gan_same_seed_same_run():
    x, y = _clusters(128)

    def run():
        gan = _compile(_cgan(seed=4), run_eagerly=True)  # two steps: eager is quicker than tracing
        gan.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False)
        return gan.generator.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


# -- ACGAN ----------------------------------------------------------------------------------------------------
def test_acgan_learns_to_classify_real_data_and_generates_the_asked_class():
    x, y = _clusters()
    gan = _compile(_acgan())
    history = gan.fit(x, y, batch_size=64, epochs=8, verbose=0).history
    assert history["d_class_accuracy"][0] < 0.7 < 0.95 < history["d_class_accuracy"][-1]  # chance: 1/3
    assert history["d_class_loss"][-1] < 0.5 * history["d_class_loss"][0]
    assert np.mean(gan.classify(x) == y) > 0.95
    for k in range(3):
        assert np.mean(gan.classify(gan.generate(100, labels=k, seed=1)) == k) > 0.9


# -- InfoGAN --------------------------------------------------------------------------------------------------
def test_infogan_codes_become_predictable_and_pick_out_the_clusters(tmp_path):
    x, y = _clusters()
    gan = _compile(_infogan())
    history = gan.fit(x, y, batch_size=64, epochs=15, verbose=0).history  # labels given, and ignored
    assert history["info_loss"][-1] < 0.3 * history["info_loss"][0]
    assert history["info_accuracy"][-1] > 0.95
    # Q reads each row's category back from a code grid: rows vary code 0, columns share z and the other code
    grid = gan.code_grid(0, columns=16, seed=3)
    assert grid.shape == (3 * 16, 2)
    q_logits = keras.ops.convert_to_numpy(gan.discriminator(grid)[1])
    assert np.mean(q_logits.argmax(-1) == np.repeat(np.arange(3), 16)) > 0.9
    result = categorical_purity(gan, _nearest_mean, n_per_category=100)
    assert result["purity"] > 0.7 and result["matched_accuracy"] > 0.7, result  # chance: about 1/3
    assert len(result["per_category"]) == 3 and np.sum(result["counts"]) == 300
    # continuous-code rows: the default values -2..2 in 5 steps; the grid saves as a picture
    assert gan.code_grid(1, columns=4).shape == (5 * 4, 2)
    np.testing.assert_array_equal(gan.generate(5, codes={0: 2, 1: 0.5}, seed=7),
                                  gan.generate(5, codes={0: [2] * 5, 1: [0.5] * 5}, seed=7))


def test_sample_codes_with_an_int_seed_draws_each_code_independently():
    """Two categorical codes of one size, seeded by one int, must not come out as copies of each other, nor the
    continuous code tied to them; the same int gives the same codes."""
    keras.utils.set_random_seed(0)
    game = InfoGAN(nets.mlp_conditional_generator(4, 11, 2, hidden=(4,), condition_name="codes"),
                   nets.mlp_infogan_discriminator(2, [5, 5], 1, hidden=(4,)), categorical_codes=(5, 5),
                   continuous_codes=1, seed=0)
    codes = keras.ops.convert_to_numpy(game.sample_codes(400, seed=3))
    assert codes.shape == (400, 11)
    first, second, continuous = codes[:, :5].argmax(-1), codes[:, 5:10].argmax(-1), codes[:, 10]
    np.testing.assert_array_equal(codes[:, :10].sum(-1), 2.0)  # one-hot each
    assert np.mean(first != second) > 0.7  # independent: 4/5 differ; the same stream: none would
    assert abs(np.corrcoef(first, continuous)[0, 1]) < 0.2
    assert len(set(first.tolist())) == 5 and continuous.min() < -0.9 and continuous.max() > 0.9
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(game.sample_codes(400, seed=3)), codes)
    assert not np.array_equal(keras.ops.convert_to_numpy(game.sample_codes(400, seed=4)), codes)


def test_categorical_purity_counts_and_matching():
    """A stub game whose category v yields class (v // 2): purity 1 (each value is pure) but only two of four
    values can be matched one-to-one."""
    class Stub:
        categorical_codes = (4,)

        def generate(self, n, codes=None, seed=None):
            return np.full((n, 1), codes[0] // 2, "float32")

    result = categorical_purity(Stub(), lambda images: images[:, 0].astype(int), n_per_category=10)
    assert result["purity"] == 1.0 and result["matched_accuracy"] == 0.5
    assert [c["majority_class"] for c in result["per_category"]] == [0, 0, 1, 1]
    fitted = categorical_purity(Stub(), (np.array([[0.0], [0.0], [1.0], [1.0]]), np.array([0, 0, 1, 1])),
                                n_per_category=10)
    assert fitted["purity"] == 1.0
    with pytest.raises(ValueError, match=r"classifier: expected a callable"):
        categorical_purity(Stub(), "knn")
    with pytest.raises(ValueError, match=r"code_index: expected the index of a categorical code in \[0, 1\); got 1"):
        categorical_purity(Stub(), lambda images: images[:, 0].astype(int), code_index=1)


# -- label handling errors ------------------------------------------------------------------------------------
def test_label_errors_name_the_argument():
    x, y = _clusters(64)
    gan = _compile(_cgan())
    with pytest.raises(ValueError, match=r"y: expected the labels of x \(class ids in \[0, 3\).*got None"):
        gan.fit(x, verbose=0)
    with pytest.raises(ValueError, match=r"y: expected class ids in \[0, 3\); got \[3"):
        gan.fit(x, np.where(y == 2, 3, y), verbose=0)
    with pytest.raises(ValueError, match=r"y: expected 64 class ids \(one per sample\); got 60"):
        gan.fit(x, y[:60], verbose=0)
    with pytest.raises(ValueError, match=r"y: expected class ids of shape \(64,\).*got shape \(64, 2\)"):
        gan.fit(x, np.stack([y, y], 1), verbose=0)
    with pytest.raises(ValueError, match=r"x: expected a dataset of \(samples, labels\) pairs"):
        gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), verbose=0)
    with pytest.raises(ValueError, match=r"x: expected class ids in \[0, 3\); got \[-1"):
        gan.fit(tf.data.Dataset.from_tensor_slices((x, y - 1)).batch(64), verbose=0)
    with pytest.raises(ValueError, match=r"labels: expected 5 class ids \(one per sample\); got 2"):
        gan.generate(5, labels=[0, 1])
    with pytest.raises(ValueError, match=r"labels: expected class ids in \[0, 3\); got \[7\]"):
        gan.generate(2, labels=7)
    attributes = _compile(_cgan(num_classes=None, condition_dim=2))
    with pytest.raises(ValueError, match=r"y: expected attribute vectors of shape \(64, 2\).*got shape \(64,\)"):
        attributes.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"labels: expected attribute vectors of shape \(3, 2\) or \(2,\); got None"):
        attributes.generate(3)
    with pytest.raises(ValueError, match=r"inputs: expected \[z, attribute_vectors\]"):
        attributes(np.zeros((2, 4), "float32"))
    info = _infogan()
    with pytest.raises(ValueError, match=r"codes\[0\]: expected class ids in \[0, 3\); got \[3\]"):
        info.generate(2, codes={0: 3})
    with pytest.raises(ValueError, match=r"codes: expected code indices in \[0, 2\) as dict keys; got 5"):
        info.generate(2, codes={5: 0})
    with pytest.raises(ValueError, match=r"code_index: expected an index in \[0, 2\).*got 2"):
        info.code_grid(2)


def test_network_and_option_errors():
    g3 = nets.mlp_conditional_generator(4, 3, 2, hidden=(8,))
    d3 = nets.mlp_conditional_discriminator(2, 3, hidden=(8,))
    with pytest.raises(ValueError, match=r"num_classes: expected the number of classes.*got neither"):
        ConditionalGAN(g3, d3)
    with pytest.raises(ValueError, match=r"generator: expected a condition input of size 4.*got one of size 3"):
        ConditionalGAN(g3, d3, num_classes=4)
    with pytest.raises(ValueError, match=r"generator: expected two vector inputs \[z, condition\]"):
        ConditionalGAN(nets.mlp_generator(4, 2, hidden=(8,)), d3, num_classes=3)
    with pytest.raises(ValueError, match=r"discriminator: expected two inputs \[x, condition\]"):
        ConditionalGAN(g3, nets.mlp_discriminator(2, hidden=(8,)), num_classes=3)
    with pytest.raises(ValueError, match=r"fake_labels: expected 'shuffle' for attribute vectors"):
        ConditionalGAN(g3, d3, condition_dim=3, fake_labels="uniform")
    with pytest.raises(ValueError, match=r"discriminator: expected two outputs \[logits, class_logits"):
        ACGAN(g3, nets.mlp_acgan_discriminator(2, 4, hidden=(8,)), num_classes=3)
    with pytest.raises(ValueError, match=r"class_weight: expected a non-negative number; got -1"):
        ACGAN(g3, nets.mlp_acgan_discriminator(2, 3, hidden=(8,)), num_classes=3, class_weight=-1)
    with pytest.raises(ValueError, match=r"discriminator: expected outputs of widths \[1, 3, 1\].*got widths \[1, 3\]"):
        InfoGAN(nets.mlp_conditional_generator(4, 4, 2, hidden=(8,)), nets.mlp_infogan_discriminator(2, [3], 0),
                categorical_codes=[3], continuous_codes=1)
    with pytest.raises(ValueError, match=r"categorical_codes: expected a list of category counts.*got \[1\]"):
        nets.infogan_discriminator((8, 8, 1), [1])


# -- image nets, .keras round trips, export ---------------------------------------------------------------------
def _image_game(kind):
    keras.utils.set_random_seed(0)
    shape = (8, 8, 1)
    if kind == "info":
        return InfoGAN(nets.conditional_generator(6, nets.infogan_code_dim([3], 2), shape, width=4,
                                                  condition_name="codes"),
                       nets.infogan_discriminator(shape, [3], 2, width=4, q_units=8),
                       categorical_codes=[3], continuous_codes=2, info_weight=0.5, ema=0.9, seed=0)
    generator = nets.conditional_generator(6, 3, shape, width=4)
    if kind == "acgan":
        return ACGAN(generator, nets.acgan_discriminator(shape, 3, width=4), num_classes=3, class_weight=0.5, seed=0)
    return ConditionalGAN(generator, nets.conditional_discriminator(shape, 3, width=4), num_classes=3,
                          label_smoothing=0.1, gradient_penalty=1.0, ema=0.9, seed=0)


def _image_data(n=16):
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (n, 8, 8, 1)).astype("float32"), rng.integers(0, 3, n).astype("int32")


@pytest.mark.parametrize("kind", ["conditional", "acgan", "info"])
def test_keras_round_trip(kind, tmp_path):
    game = _image_game(kind)
    game.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.RMSprop(1e-3),
                 run_eagerly=True)  # two steps: tracing would cost more than it saves
    x, y = _image_data()
    game.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)
    game.save(tmp_path / "game.keras")
    loaded = keras.models.load_model(tmp_path / "game.keras")
    assert type(loaded) is type(game) and loaded.get_config().keys() == game.get_config().keys()
    for a, b in zip(game.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(loaded.g_optimizer.iterations) == int(game.g_optimizer.iterations) == 2
    assert int(loaded.d_optimizer.iterations) == 2
    for a, b in zip(game.d_optimizer.variables, loaded.d_optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    if kind == "info":
        assert (loaded.categorical_codes, loaded.continuous_codes, loaded.info_weight) == ((3,), 2, 0.5)
        np.testing.assert_array_equal(game.generate(4, codes={0: 1}, seed=2), loaded.generate(4, codes={0: 1}, seed=2))
    else:
        np.testing.assert_array_equal(game.generate(4, labels=[0, 1, 2, 1], seed=2),
                                      loaded.generate(4, labels=[0, 1, 2, 1], seed=2))
    assert game.generate(3, seed=1).shape == (3, 8, 8, 1)
    if kind == "acgan":  # the loaded game keeps training from its optimizers' state
        loaded.run_eagerly = True
        history = loaded.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0).history
        assert np.isfinite(history["d_class_loss"]).all() and int(loaded.g_optimizer.iterations) == 4


def test_export_conditional_generator_and_sample_it_with_labels(tmp_path):
    game = _image_game("conditional")
    game.compile()
    game.generator.set_weights([w + 0.05 for w in game.generator.get_weights()])  # EMA differs from G
    metadata = export.export_generator(game, tmp_path / "cgan")  # the exporter asks the game for its conditioning
    assert [i["name"] for i in metadata["inputs"]] == ["z", "condition"]
    assert metadata["conditioning"]["kind"] == "class" and metadata["conditioning"]["num_classes"] == 3
    assert all(err <= 1e-4 for err in metadata["parity_max_abs_error"].values())
    assert set(metadata["parity_max_abs_error"]) == {"onnx", "saved_model"}
    runner = runtime.load(tmp_path / "cgan")
    labels = [2, 0, 1, 1, 0]
    np.testing.assert_allclose(runner.sample(5, seed=3, labels=labels), game.generate(5, labels=labels, seed=3),
                               atol=1e-5)
    np.testing.assert_allclose(runner.sample(4, seed=1, labels=2), game.generate(4, labels=2, seed=1), atol=1e-5)
    np.testing.assert_allclose(runner.sample(4, seed=1), game.generate(4, seed=1), atol=1e-5)  # classes cycle
    with pytest.raises(ValueError, match=r"labels: expected class ids in \[0, 3\); got \[3\]"):
        runner.sample(2, labels=3)
    saved = tf.saved_model.load(str(tmp_path / "cgan" / "saved_model")).signatures["serving_default"]
    z = runtime.sample_normal(2, 6, seed=0)
    c = np.eye(3, dtype="float32")[[0, 2]]
    np.testing.assert_allclose(saved(z=tf.constant(z), condition=tf.constant(c))["images"].numpy(),
                               keras.ops.convert_to_numpy(game.inference_generator([z, c])), atol=1e-5)


def test_export_infogan_runner_draws_and_fixes_codes_like_the_game(tmp_path):
    game = _compile(_infogan())
    metadata = export.export_generator(game, tmp_path / "info", formats=("onnx",))
    assert metadata["conditioning"] == game.export_metadata()["conditioning"]
    assert metadata["conditioning"]["kind"] == "info_codes"
    runner = runtime.load(tmp_path / "info")
    np.testing.assert_allclose(runner.sample(6, seed=4), game.generate(6, seed=4), atol=1e-5)
    np.testing.assert_allclose(runner.sample(6, seed=4, labels={0: 1}), game.generate(6, codes={0: 1}, seed=4),
                               atol=1e-5)


def test_runner_without_conditioning_metadata_one_hot_encodes_integer_labels(tmp_path):
    game = _compile(_cgan())
    # The bare generator has no export_metadata hook, so the export records no conditioning.
    export.export_generator(game.inference_generator, tmp_path / "plain", formats=("onnx",))
    runner = runtime.load(tmp_path / "plain")
    assert runner.conditioning["kind"] == "vector" and runner.conditioning["condition_dim"] == 3
    np.testing.assert_allclose(runner.sample(3, seed=0, labels=[1, 2, 0]), game.generate(3, labels=[1, 2, 0], seed=0),
                               atol=1e-5)
    export.export_generator(nets.mlp_generator(2, 2, hidden=(4,)), tmp_path / "u", formats=("onnx",))
    with pytest.raises(ValueError, match=r"labels: expected None for an unconditional export"):
        runtime.load(tmp_path / "u").sample(2, labels=1)


def test_image_builders_shapes():
    g = nets.conditional_generator(8, 5, (16, 16, 3), width=4)
    assert g.output_shape == (None, 16, 16, 3) and [i.name for i in g.inputs] == ["z", "condition"]
    d = nets.conditional_discriminator((16, 16, 3), 5, width=4)
    assert d.output_shape == (None, 1)
    assert [s[-1] for s in nets.acgan_discriminator((16, 16, 3), 5, width=4).output_shape] == [1, 5]
    assert [s[-1] for s in nets.infogan_discriminator((16, 16, 3), [10, 4], 2, width=4).output_shape] == [1, 10, 4, 2]
    assert nets.infogan_code_dim([10, 4], 2) == 16
