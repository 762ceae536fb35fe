"""Latent-density debiasing: densities and weights against their definitions, resampled batches against their
probabilities (and a variable changed between epochs), the LatentResampling callback in a real fit, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganapps import debias


def planted(n=1000, rare=50, dims=4, seed=0) -> np.ndarray:
    """Gaussian codes with a tight rare cluster (the first ``rare`` rows) far out along dimension 0."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.0, (n, dims))
    z[:rare, 0] = 8.0 + rng.normal(0.0, 0.3, rare)
    return z


def density_by_hand(z, bins, smoothing):
    """Q_i(z_ni) from np.histogram and a per-sample loop: the definition, written out slowly."""
    q = np.empty(z.shape)
    for i in range(z.shape[1]):
        counts, edges = np.histogram(z[:, i], bins=bins, range=(z[:, i].min(), z[:, i].max()))
        share = (counts / len(z) + smoothing) / (1 + bins * smoothing)
        for n, value in enumerate(z[:, i]):
            b = min(int(np.searchsorted(edges, value, side="right")) - 1, bins - 1)
            q[n, i] = share[b]
    return q


@pytest.mark.parametrize("bins, smoothing", [(10, 0.0), (7, 1e-3), (1, 0.5)])
def test_latent_density_is_the_per_dimension_histogram_share(bins, smoothing):
    z = np.random.default_rng(1).normal(size=(300, 3))
    q = debias.latent_density(z, bins=bins, smoothing=smoothing)
    np.testing.assert_allclose(q, density_by_hand(z, bins, smoothing), rtol=1e-12)


def test_latent_density_of_a_constant_dimension_is_one_bin():
    z = np.stack([np.arange(6.0), np.full(6, 2.5)], axis=1)
    q = debias.latent_density(z, bins=3, smoothing=0.0)
    np.testing.assert_allclose(q[:, 1], 1.0)
    np.testing.assert_allclose(q[:, 0], 2 / 6)  # 0..5 in three bins of width 5/3: {0, 1}, {2, 3}, {4, 5}


def test_huge_alpha_gives_uniform_weights_and_small_alpha_debiases_more():
    z = planted()
    uniform = debias.sampling_weights(z, alpha=1e9)
    np.testing.assert_allclose(uniform, 1 / len(z), rtol=1e-7)
    ratios = []
    for alpha in (0.0, 0.01, 0.1, 1.0):
        w = debias.sampling_weights(z, alpha=alpha)
        ratios.append(w[:50].mean() / w[50:].mean())
    assert ratios == sorted(ratios, reverse=True) and ratios[-1] > 1.0, ratios


def test_planted_rare_cluster_weighs_far_more_than_the_common_points():
    z = planted()
    w = debias.sampling_weights(z, alpha=0.01)
    assert w[:50].mean() > 3.0 * w[50:].mean()
    assert w[:50].sum() > 3 * 0.05  # the 5% cluster gets over three times its share of the draws
    # the weight is the product of per-dimension factors, written out from the density
    q = debias.latent_density(z)
    by_hand = np.prod(1.0 / (q + 0.01), axis=1)
    np.testing.assert_allclose(w, by_hand / by_hand.sum(), rtol=1e-10)


def test_weights_do_not_depend_on_sample_order():
    z = planted(n=400, rare=20)
    order = np.random.default_rng(3).permutation(len(z))
    for normalize in ("probability", "mean_one"):
        w = debias.sampling_weights(z, normalize=normalize)
        np.testing.assert_allclose(debias.sampling_weights(z[order], normalize=normalize), w[order], rtol=1e-12)


def test_strata_measure_rarity_within_each_class_and_keep_the_class_balance():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], [300, 100])
    z = rng.normal(0, 1, (400, 3))
    z[labels == 1] += 6.0           # class 1 is its own region: rare overall, common within its class
    rare = np.zeros(400, bool)
    rare[rng.choice(np.flatnonzero(labels == 0), 15, replace=False)] = True
    z[rare, 0] += 4.0               # a rare kind of class 0
    p = debias.sampling_weights(z, strata=labels)
    assert p[labels == 0].sum() == pytest.approx(0.75) and p[labels == 1].sum() == pytest.approx(0.25)
    np.testing.assert_allclose(p[labels == 1] / 0.25, debias.sampling_weights(z[labels == 1]))
    assert p[rare].mean() > 3 * p[(labels == 0) & ~rare].mean()
    assert debias.sampling_weights(z)[labels == 1].sum() > 0.25  # unstratified, the whole class weighs more
    one = debias.sampling_weights(z[:5], strata=[0, 0, 0, 0, 1])  # a stratum of one keeps its share
    assert one[4] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="strata: expected None or 400 values, one per row of z"):
        debias.sampling_weights(z, strata=labels[:10])


def test_normalisations_and_effective_sample_size():
    z = planted(n=400, rare=20)
    p = debias.sampling_weights(z, normalize="probability")
    m = debias.sampling_weights(z, normalize="mean_one")
    assert p.sum() == pytest.approx(1.0) and m.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(m, p * len(z))
    np.testing.assert_array_equal(debias.sample_weights(z), m)
    assert debias.effective_sample_size(np.full(8, 1 / 8)) == pytest.approx(8.0)
    assert debias.effective_sample_size([0.0, 3.0, 0.0]) == pytest.approx(1.0)
    assert debias.effective_sample_size([1.0, 1.0, 2.0]) == pytest.approx(16 / 6)
    assert debias.effective_sample_size(m) == pytest.approx(debias.effective_sample_size(p))
    assert 1.0 < debias.effective_sample_size(p) < len(z)


def draw_indices(dataset) -> np.ndarray:
    """The sample indices of every batch of one pass (the samples are their own indices)."""
    return np.concatenate([np.asarray(b[0] if isinstance(b, tuple) else b).ravel() for b in dataset])


def test_resampled_batches_follow_the_probabilities():
    n = 100
    probabilities = np.zeros(n)
    probabilities[:10] = np.arange(1, 11)  # proportional weights: they need not sum to 1
    x = np.arange(n, dtype=np.int64)
    dataset = debias.resampled_dataset(x, None, probabilities, batch_size=50, steps=100, seed=1)
    assert int(dataset.cardinality()) == 100
    drawn = draw_indices(dataset)
    assert len(drawn) == 5000 and drawn.max() < 10
    observed = np.bincount(drawn, minlength=10)
    expected = 5000 * np.arange(1, 11) / 55
    chi_square = np.sum((observed - expected) ** 2 / expected)
    assert chi_square < 27.9, (chi_square, observed)  # 9 degrees of freedom, p = 0.001
    assert np.all(np.abs(observed / 5000 - expected / 5000) < 0.02)


def test_resampled_dataset_reads_the_variable_at_draw_time_and_replays_with_its_seed():
    n = 60
    x = np.arange(n, dtype=np.float32)[:, None]
    y = np.arange(n) * 10
    variable = tf.Variable(np.r_[np.ones(20), np.zeros(40)], dtype=tf.float64)

    def passes(seed, epochs=3):
        variable.assign(np.r_[np.ones(20), np.zeros(40)])
        dataset = debias.resampled_dataset(x, y, variable, batch_size=8, steps=5, seed=seed)
        iterator = iter(dataset)  # an iterator that never draws must not shift the draws of the next pass
        del iterator
        out = []
        for epoch in range(epochs):
            if epoch == 2:
                variable.assign(np.r_[np.zeros(40), np.ones(20)])
            batches = list(dataset)
            for xb, yb in batches:  # pairs stay together and batches have a static size
                assert xb.shape == (8, 1)
                np.testing.assert_array_equal(yb.numpy(), xb.numpy()[:, 0].astype(int) * 10)
            out.append(np.concatenate([xb.numpy()[:, 0] for xb, _ in batches]).astype(int))
        return out

    first = passes(seed=5)
    assert first[0].max() < 20 and first[1].max() < 20 and first[2].min() >= 40
    assert not np.array_equal(first[0], first[1])  # successive epochs draw afresh
    for a, b in zip(first, passes(seed=5)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], passes(seed=6, epochs=1)[0])


def test_resampled_dataset_without_y_and_uniform_by_default():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    batches = list(debias.resampled_dataset(x, batch_size=4, seed=0, prefetch=0))
    assert len(batches) == 5 and all(isinstance(b, tf.Tensor) and b.shape == (4, 2) for b in batches)
    drawn = np.concatenate([b.numpy()[:, 0] // 2 for b in batches]).astype(int)
    assert len(set(drawn.tolist())) > 8  # uniform draws with replacement spread over the samples


class Recorder(keras.Model):
    """A tiny classifier that counts how many rare-group samples (feature 1 above 1.5) each epoch trains on."""

    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(16, activation="relu")
        self.out = keras.layers.Dense(1)
        self.rare_seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="rare_seen")
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen")

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, _ = data
        self.rare_seen.assign_add(keras.ops.sum(keras.ops.cast(x[:, 1] > 1.5, "float32")))
        self.seen.assign_add(keras.ops.cast(keras.ops.shape(x)[0], "float32"))
        return super().train_step(data)


class EpochShares(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.shares = []

    def on_epoch_end(self, epoch, logs=None):
        self.shares.append(float(self.model.rare_seen.numpy() / self.model.seen.numpy()))
        self.model.rare_seen.assign(0.0)
        self.model.seen.assign(0.0)


def flipped_rule(n=400, rare=20, seed=0):
    """Feature 0 decides the label; the rare group (feature 1 near 3) follows the opposite rule."""
    rng = np.random.default_rng(seed)
    group = np.zeros(n, dtype=int)
    group[:rare] = 1
    u = rng.normal(0.0, 1.0, n)
    x = np.stack([u, 3.0 * group + rng.normal(0.0, 0.1, n)], axis=1).astype("float32")
    y = ((u > 0) ^ (group == 1)).astype("float32")
    return x, y, group


def train(x, y, probabilities, callbacks, epochs=6, steps_per_epoch=None):
    keras.utils.set_random_seed(0)
    model = Recorder()
    model.compile(optimizer=keras.optimizers.Adam(0.03), loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  jit_compile=False)
    shares = EpochShares()
    dataset = debias.resampled_dataset(x, y, probabilities, batch_size=32, steps=10, seed=0)
    history = model.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=[*callbacks, shares],
                        shuffle=False, verbose=0)
    return model, shares.shares, history.history["loss"]


def accuracy(model, x, y):
    return float(np.mean((model.predict(x, verbose=0)[:, 0] > 0) == (y > 0.5)))


def test_latent_resampling_shows_the_rare_group_far_more_often_and_it_is_learned():
    x, y, group = flipped_rule()
    resampler = debias.LatentResampling(lambda batch: batch, x, alpha=0.01, batch_size=128)  # codes = features
    model, shares, losses = train(x, y, resampler.probabilities, [resampler])
    assert min(shares) > 0.25, shares  # the group is 5% of the data
    assert losses[-1] < 0.7 * losses[0], losses
    assert resampler.history["epoch"] == list(range(6))
    assert resampler.history["effective_sample_size"][0] < 0.8 * len(x)
    np.testing.assert_allclose(resampler.current_probabilities(), debias.sampling_weights(x, alpha=0.01))

    plain, plain_shares, _ = train(x, y, None, [])
    assert max(plain_shares) < 0.12, plain_shares
    rare = group == 1
    debiased_rare, plain_rare = accuracy(model, x[rare], y[rare]), accuracy(plain, x[rare], y[rare])
    assert debiased_rare > 0.85 and debiased_rare > plain_rare + 0.2, (debiased_rare, plain_rare)


class Flip(keras.callbacks.Callback):
    """Puts all the probability on the rare group at the start of epoch 1."""

    def __init__(self, variable, rare):
        super().__init__()
        self.variable, self.rare = variable, rare

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.variable.assign(self.rare.astype("float64"))


@pytest.mark.parametrize("steps_per_epoch", [None, 10])
def test_a_change_at_epoch_begin_reaches_every_batch_of_that_epoch(steps_per_epoch):
    x, y, group = flipped_rule()
    variable = tf.Variable((group == 0).astype("float64"))
    _, shares, _ = train(x, y, variable, [Flip(variable, group == 1)], epochs=3, steps_per_epoch=steps_per_epoch)
    assert shares == [0.0, 1.0, 1.0], shares


class MeanEncoder:
    """An encode(x, batch_size) object like FAnoGAN's or the VAE-GAN's, returning NumPy means."""

    def __init__(self, net):
        self.net, self.calls = net, []

    def encode(self, x, batch_size=256):
        self.calls.append(batch_size)
        return keras.ops.convert_to_numpy(self.net(x))


def test_encoder_kinds_agree_and_every_schedules_updates():
    x = flipped_rule(n=120, rare=6)[0]
    keras.utils.set_random_seed(0)
    inputs = keras.Input((2,))
    mean = keras.layers.Dense(3)(inputs)
    net = keras.Model(inputs, mean)
    vae_style = keras.Model(inputs, [mean, keras.layers.Dense(3)(inputs)])  # (mean, log_variance)
    wrapped = MeanEncoder(net)
    results = []
    for encoder in (net, vae_style, lambda b: (net(b), None), wrapped):
        resampler = debias.LatentResampling(encoder, x, batch_size=50, every=2)
        np.testing.assert_allclose(resampler.current_probabilities(), 1 / len(x))
        for epoch in range(5):
            resampler.on_epoch_begin(epoch)
        assert resampler.history["epoch"] == [0, 2, 4]
        results.append(resampler.current_probabilities())
    assert wrapped.calls == [50, 50, 50]
    expected = debias.sampling_weights(keras.ops.convert_to_numpy(net(x)))
    for p in results:
        np.testing.assert_allclose(p, expected, rtol=1e-5)
    assert not np.allclose(expected, 1 / len(x))


def test_callback_dataset_uses_its_probabilities():
    x, y, group = flipped_rule(n=100, rare=5)
    resampler = debias.LatentResampling(lambda b: b, x)
    resampler.probabilities.assign((group == 1).astype("float64"))
    drawn = np.concatenate([xb.numpy()[:, 1] for xb, _ in resampler.dataset(y, batch_size=10)])
    assert len(drawn) == 100 and np.all(drawn > 1.5)


@pytest.mark.parametrize("call, message", [
    (lambda: debias.latent_density(np.array([[0.0], [np.nan]])), r"z: expected finite values; got 1 NaN"),
    (lambda: debias.latent_density(np.zeros(5)), r"z: expected a 2-D array .*; got shape \(5,\)"),
    (lambda: debias.latent_density(np.zeros((1, 3))), r"z: expected at least 2 samples .*; got 1"),
    (lambda: debias.latent_density(np.zeros((4, 2)), bins=0), r"bins: expected a positive integer; got 0"),
    (lambda: debias.latent_density(np.zeros((4, 2)), smoothing=-1), r"smoothing: expected a finite number >= 0"),
    (lambda: debias.sampling_weights(np.zeros((4, 2)), alpha=float("inf")), r"alpha: expected a finite number"),
    (lambda: debias.sampling_weights(np.zeros((4, 2)), normalize="sum"),
     r"normalize: expected 'probability' or 'mean_one'; got 'sum'"),
    (lambda: debias.effective_sample_size([0.0, 0.0]), r"probabilities: expected finite values >= 0 with a"),
    (lambda: debias.effective_sample_size([[0.5, 0.5]]), r"probabilities: expected a non-empty 1-D array"),
    (lambda: debias.resampled_dataset(np.zeros((4, 2)), probabilities=np.ones(3)),
     r"probabilities: expected a 1-D array of 4 values .*; got shape \(3,\)"),
    (lambda: debias.resampled_dataset(np.zeros((4, 2)), probabilities=[1, -1, 1, 1]),
     r"probabilities: expected finite values >= 0"),
    (lambda: debias.resampled_dataset(np.zeros((4, 2)), probabilities=tf.Variable(np.ones(5))),
     r"probabilities: expected a floating-point tf.Variable of shape \(4,\); got float64 of shape \(5,\)"),
    (lambda: debias.resampled_dataset(np.zeros((4, 2)), np.zeros(3)), r"y: expected 4 targets .*; got 3"),
    (lambda: debias.resampled_dataset(np.zeros((4, 2)), batch_size=0), r"batch_size: expected a positive"),
    (lambda: debias.resampled_dataset(np.zeros((4, 2)), steps=0), r"steps: expected a positive integer; got 0"),
    (lambda: debias.resampled_dataset(np.zeros((4, 2)), seed="a"), r"seed: expected an integer; got 'a'"),
    (lambda: debias.resampled_dataset(np.zeros((0, 2))), r"x: expected a non-empty NumPy array"),
    (lambda: debias.LatentResampling(42, np.zeros((4, 2))), r"encoder: expected a keras Model, .*; got int"),
    (lambda: debias.LatentResampling(lambda b: b, np.zeros((1, 2))), r"x: expected at least 2 samples; got 1"),
    (lambda: debias.LatentResampling(lambda b: b, np.zeros((4, 2)), every=0), r"every: expected a positive"),
    (lambda: debias.LatentResampling(lambda b: b[:1], np.zeros((4, 2)), batch_size=4).update(),
     r"encoder: expected 4 rows of latent codes .*; got 1"),
    (lambda: debias.LatentResampling(lambda b: b * np.nan, np.ones((4, 2))).update(),
     r"encoder: expected finite values; got 8 NaN"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_variable_emptied_after_building_fails_at_draw_time():
    variable = tf.Variable(np.ones(4))
    dataset = debias.resampled_dataset(np.zeros((4, 2)), None, variable, batch_size=2, prefetch=0)
    variable.assign(np.zeros(4))
    with pytest.raises(tf.errors.InvalidArgumentError, match="probabilities: expected finite values >= 0"):
        list(dataset)
