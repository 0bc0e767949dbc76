"""Tests of the whole project: `pytest test_all.py` (about 4 minutes on a 2-core CPU).

A map of the code. After the imports and the few constants the parametrisations need, one
section per file in README's reading order (common.py, ae.py, tune.py, classify.py,
explore.py, vae.py, beyond/samples.py, judge.py and labels.py, scripts/reproduce.py,
summary.py and seeds.py). Each section opens with the file's maths where it has some, then
what the file does (a training step, a trial, the steps of the report), what each fit sees,
--seed, what the results say, and last its own end-to-end --quick run, each under a heading
that names it. Then the plumbing: plumbing/steps.py, which runs the report's steps side by
side, and by topic flags, --params, files and the disk, the data files, checkpoints,
signals, the Optuna storage and the imports. Last, behind one banner, the shared helpers
the tests lean on (the script runner, the spies, the fixtures); a student may skip them.
`pytest test_all.py -k gaussian_kl` runs the tests of one function.

Most tests use tiny synthetic data; the end-to-end tests run each script with --quick on
the real Fashion-MNIST (decompressed once into ./data from Debian's package).
"""
import argparse
import ast
import contextlib
import copy
import errno
import gzip
import io
import json
import math
import os
import re
import runpy
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from optuna.trial import TrialState
from torch.distributions import Bernoulli, MultivariateNormal, Normal, kl_divergence
from torch.optim.optimizer import register_optimizer_step_pre_hook

import ae
import beyond.samples
import classify
import common
import explore
import plumbing.checkpoints
import plumbing.cli
import plumbing.data
import plumbing.figures
import plumbing.files
import plumbing.params
import plumbing.steps
import plumbing.storage
import scripts.reproduce
import tune
import vae
from beyond import judge, labels
from scripts import seed_runs, seeds, summary


CPU = ["--device", "cpu"]  # in-process runs: the same device whatever the machine has


TINY = ["--quick", "--subset", "300", "--epochs", "1", *CPU]  # a few seconds per trial


SUBSET = 200  # --subset: 200 training, 50 validation and 50 test images


QUICK = ["--quick", "--subset", "200", "--epochs", "1", *CPU]  # an in-process run: ~0.5 s


# script -> (its losses: (phase, key) of train_epoch's and evaluate's results)
WATCHED = {"ae": [("train", "mse"), ("val", "mse")],
           "classify": [("train", "loss"), ("val", "accuracy")],
           "vae": [("train", "recon"), ("train", "kl"), ("val", "recon"), ("val", "kl")]}


# =============================================================================
# common.py: the split, the batches, the models of Tables 1 and 2, the optimisers, PCA, the
# bilinear grid
# =============================================================================

# --- common.py: the maths ----------------------------------------------------

# Tables 1 and 2 at d = 7, each layer with weights: (kind, in, out, kernel, stride, padding,
# output shape without the batch); a linear layer has no kernel, stride or padding
TABLES_1_2 = {
    "encoder": [(nn.Conv2d, 1, 8, 4, 2, 1, (8, 14, 14)), (nn.Conv2d, 8, 16, 4, 2, 1, (16, 7, 7)),
                (nn.Conv2d, 16, 32, 3, 2, 0, (32, 3, 3)), (nn.Linear, 288, 64, 0, 0, 0, (64,)),
                (nn.Linear, 64, 7, 0, 0, 0, (7,))],
    "decoder": [(nn.Linear, 7, 64, 0, 0, 0, (64,)), (nn.Linear, 64, 288, 0, 0, 0, (288,)),
                (nn.ConvTranspose2d, 32, 16, 3, 2, 0, (16, 7, 7)),
                (nn.ConvTranspose2d, 16, 8, 4, 2, 1, (8, 14, 14)),
                (nn.ConvTranspose2d, 8, 1, 4, 2, 1, (1, 28, 28))]}


@pytest.mark.parametrize("part", TABLES_1_2)
def test_encoder_and_decoder_match_tables_1_and_2_layer_by_layer(part):
    model = (common.Encoder if part == "encoder" else common.Decoder)(7, 0.2).eval()
    x = torch.rand(3, 1, 28, 28) if part == "encoder" else torch.randn(3, 7)
    layers = []
    for layer in model.modules():
        if len(list(layer.children())) == 0:  # a leaf, run in order
            x = layer(x)
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                layers.append((layer, tuple(x.shape[1:])))
    assert len(layers) == len(TABLES_1_2[part])
    for (kind, c_in, c_out, k, s, p, shape), (layer, got) in zip(TABLES_1_2[part], layers):
        assert isinstance(layer, kind) and got == shape
        if kind is nn.Linear:
            assert (layer.in_features, layer.out_features) == (c_in, c_out)
        else:
            assert (layer.in_channels, layer.out_channels) == (c_in, c_out)
            assert (layer.kernel_size, layer.stride, layer.padding) == ((k, k), (s, s), (p, p))
    assert dropouts(model) == [0.2, 0.2]                       # after both linear layers
    if part == "decoder":                                      # pixels in (0, 1)
        assert isinstance(list(model.modules())[-1], nn.Sigmoid) and 0 <= x.min() <= x.max() <= 1


def fan_in(layer):
    """n_l of He et al. (2015), as torch counts it: the inputs that feed one output (a
    transposed conv's weight is (in, out, k, k), and torch reads its fan-in from out)."""
    if isinstance(layer, nn.Linear):
        return layer.in_features
    channels = layer.in_channels if isinstance(layer, nn.Conv2d) else layer.out_channels
    return channels * math.prod(layer.kernel_size)


@pytest.mark.parametrize("model", [
    lambda: common.Encoder(185, 0.0), lambda: common.Decoder(185), lambda: vae.VAE(44),
    lambda: classify.Classifier(common.Encoder(185, 0.0), 12, 74, 0.0).mlp])
def test_every_layer_starts_with_kaiming_scale_and_zero_bias(model):
    # section 2.1: Kaiming (He) initialisation, N(0, 2 / n_l) for a ReLU network, biases 0;
    # torch's default would give std 1 / sqrt(3 n_l), 2.4 times less. Pooled over 8 seeds, so
    # that even a layer of 128 weights is measured to a few per cent.
    by_seed = []
    for seed in range(8):
        torch.manual_seed(seed)
        by_seed.append([m for m in model().modules()
                        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))])
    for layers in zip(*by_seed):                   # one layer of the model, 8 draws of it
        weights = torch.cat([layer.weight.flatten() for layer in layers]).double()
        expected = (2 / fan_in(layers[0])) ** 0.5
        assert abs(weights.std().item() / expected - 1) < 0.15, layers[0]
        assert abs(weights.mean().item()) < 0.2 * expected, layers[0]
        kurtosis = ((weights - weights.mean()) ** 4).mean() / weights.var() ** 2
        assert kurtosis > 2.4, layers[0]           # normal (3), not uniform (1.8)
        assert all(torch.all(layer.bias == 0) for layer in layers), layers[0]


def test_split_is_48000_12000_disjoint_and_ignores_the_seed():
    torch.manual_seed(1)
    train_a, val_a = common.split_indices(60_000)
    plumbing.cli.seed_everything(12345)
    train_b, val_b = common.split_indices(60_000)
    assert (len(train_a), len(val_a)) == (48_000, 12_000)
    assert torch.equal(train_a, train_b) and torch.equal(val_a, val_b)
    together = torch.cat([train_a, val_a])
    assert len(together.unique()) == 60_000


def test_batches_visit_every_index_once():
    parts = common.batches(1000, 256, "cpu", generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [256, 256, 256, 232]
    assert torch.equal(torch.cat(parts).sort().values, torch.arange(1000))


def test_real_data_has_the_report_split(data_dir):
    (x_train, y_train), (x_val, y_val) = common.load_train_val(data_dir, "cpu")
    assert x_train.shape == (48_000, 1, 28, 28) and x_val.shape == (12_000, 1, 28, 28)
    assert 0 <= x_train.min() and x_train.max() == 1
    assert torch.bincount(y_train).min() > 4000  # every class present, roughly balanced
    x_test, _ = common.load_test(data_dir, "cpu")
    assert x_test.shape == (10_000, 1, 28, 28)


def test_pca_matches_numpy_svd():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    mean, components, ratio = common.pca(torch.tensor(x, dtype=torch.float32), 3)
    _, s, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    np.testing.assert_allclose(mean.numpy(), x.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.abs(components.numpy()), np.abs(vt[:3]), atol=1e-4)
    np.testing.assert_allclose(ratio.numpy(), (s**2 / (s**2).sum())[:3], rtol=1e-4)


def test_the_decoders_logits_are_its_output_before_the_sigmoid():
    torch.manual_seed(0)
    decoder, h = common.Decoder(5), torch.randn(3, 5)
    logits = decoder(h, logits=True)
    assert logits.shape == (3, 1, 28, 28) and (logits < 0).any()
    assert torch.allclose(torch.sigmoid(logits), decoder(h))


def test_bilinear_weights_at_an_interior_point_worked_by_hand():
    # corners = the identity: each grid point's code is its four weights (TL, TR, BL, BR)
    grid = common.bilinear(torch.eye(4), n=5)                         # u, v in 0, .25, ... 1
    assert grid.shape == (5, 5, 4)
    # row 1 (v = 0.25), column 3 (u = 0.75):
    # (1-u)(1-v) = 0.1875, u(1-v) = 0.5625, (1-u)v = 0.0625, uv = 0.1875
    assert grid[1, 3].tolist() == pytest.approx([0.1875, 0.5625, 0.0625, 0.1875])
    assert grid[3, 1].tolist() == pytest.approx([0.1875, 0.0625, 0.5625, 0.1875])
    corners = torch.tensor([[0.0, 1.0], [4.0, 1.0], [0.0, 9.0], [4.0, 5.0]])
    assert common.bilinear(corners, n=5)[1, 3].tolist() == pytest.approx(
        [0.5625 * 4 + 0.1875 * 4, 0.1875 + 0.5625 + 0.0625 * 9 + 0.1875 * 5])


# --- common.py: the optimisers and the divergence check ----------------------

def test_sgd_is_plain_sgd_adam_is_adam_and_another_name_a_value_error():
    def one_step(optimizer_name, lr=0.1, weight_decay=0.01):
        p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        optimizer = common.make_optimizer(optimizer_name, [p], lr, weight_decay)
        (p * torch.tensor([3.0, 0.5])).sum().backward()
        optimizer.step()
        return p.detach()
    grad = torch.tensor([3.0, 0.5]) + 0.01 * torch.tensor([1.0, -2.0])    # with L2 penalty
    assert torch.allclose(one_step("SGD"), torch.tensor([1.0, -2.0]) - 0.1 * grad)
    # Adam's first step is lr * sign(grad) whatever the gradient's size
    assert torch.allclose(one_step("Adam"), torch.tensor([1.0, -2.0]) - 0.1 * grad.sign(),
                          atol=1e-6)
    with pytest.raises(ValueError, match="'Adagrad'"):    # a lesson raises; only main() exits
        common.make_optimizer("Adagrad", [torch.nn.Parameter(torch.zeros(2))], 0.1, 0.0)


def test_diverged_is_true_when_any_one_loss_is_not_finite():
    assert not common.diverged(0.1, 2.0, 0)
    for bad in (math.nan, math.inf, -math.inf):
        assert common.diverged(bad)
        assert common.diverged(bad, 0.1) and common.diverged(0.1, bad)
        assert common.diverged(0.1, 0.2, bad, 0.3)


def test_stop_if_diverged_names_every_diverged_run_in_one_line():
    common.stop_if_diverged({"run": {"diverged": None}})               # none diverged: goes on
    with pytest.raises(SystemExit) as e:
        common.stop_if_diverged({"Adam": {"diverged": 2}, "other": {"diverged": None},
                                 "SGD": {"diverged": 1}}, "fix it")
    assert str(e.value) == ("error: Adam diverged at epoch 2 and SGD diverged at epoch 1; "
                            "fix it. Nothing was written")


# =============================================================================
# ae.py: the autoencoder, its training, Adam against SGD, the refit, the PCA baseline
# =============================================================================

# --- ae.py: the training step, train and eval modes, divergence --------------

def test_the_autoencoders_two_steps_are_sgd_on_the_mean_squared_error():
    torch.manual_seed(0)
    model = ae.autoencoder(3, 0.5)           # dropout on: its masks come from the global RNG
    x = torch.rand(N, 1, 28, 28)
    before, code, reference = flat(model), copy.deepcopy(model), copy.deepcopy(model)
    torch.manual_seed(1)
    got = ae.train_epoch(code, torch.optim.SGD(code.parameters(), lr=0.5), x, BATCH, generator(2))

    torch.manual_seed(1)                     # the same dropout masks
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.5)
    losses = []
    for idx in reference_batches(N, BATCH, seed=2):
        optimizer.zero_grad()
        loss = (reference(x[idx]) - x[idx]).square().mean()   # section 2.1: mean of (x - g(f(x)))^2
        loss.backward()
        optimizer.step()
        losses.append((loss.item(), len(idx)))
    assert_same_update(before, code, reference)
    # the returned training MSE is the mean over the epoch's images, not over its batches
    assert got["mse"] == pytest.approx(sum(loss * n for loss, n in losses) / N, rel=1e-5)


def model_with_dropout(script):
    """The script's model, dropout 0.5 (the VAE has none: here it is put in its decoder)."""
    torch.manual_seed(0)
    if script == "ae":
        return ae.autoencoder(3, 0.5)
    if script == "classify":
        return classify.Classifier(common.Encoder(4, 0.5), 16, 16, dropout=0.5)
    model = vae.VAE(3)
    model.decoder = common.Decoder(3, 0.5)
    return model


def vae_evaluated(model, x):
    torch.manual_seed(5)                                  # the reparameterisation's eps
    return torch.tensor(list(vae.evaluate(model, x).values()))


def vae_terms_by_hand(model, x):
    """The negative ELBO's two terms per image, (reconstruction, KL), eps drawn after seed 5."""
    torch.manual_seed(5)
    mu, logvar = model.encode(x)
    sigma = torch.exp(0.5 * logvar)
    logits = model.decoder(mu + sigma * torch.randn(mu.shape), logits=True)
    recon = -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum() / len(x)
    return torch.stack([recon, kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0)).sum(1).mean()])


# what is computed with dropout off: (the script's model, the code, a reference by hand)
EVAL_MODE = {
    "ae.evaluate": ("ae", lambda m, x: torch.tensor(ae.evaluate(m, x, batch_size=8)["mse"]),
                    lambda m, x: (m(x) - x).square().mean()),
    "ae.reconstruct": ("ae", lambda m, x: ae.reconstruct(m, x), lambda m, x: m(x)),
    "classify.predict": ("classify", lambda m, x: classify.predict(m, x, batch_size=16),
                         lambda m, x: m(x).argmax(1)),
    "vae.evaluate": ("vae", vae_evaluated, vae_terms_by_hand),
    "vae.decode": ("vae", lambda m, z: vae.decode(m, z),             # z: (8, 8, d) codes
                   lambda m, z: m.decoder(z.flatten(0, 1)).view(8, 8, 28, 28))}


@pytest.mark.parametrize("case", EVAL_MODE)
def test_validation_predictions_and_images_are_computed_with_dropout_off(case):
    """Called on a model left in training mode, each gives the same twice, and what an
    eval-mode copy gives by hand (a training-mode copy, dropout on, would give another)."""
    script, code, by_hand = EVAL_MODE[case]
    model = model_with_dropout(script)
    x = torch.randn(8, 8, 3) if case == "vae.decode" else torch.rand(64, 1, 28, 28)
    with torch.no_grad():
        expected = by_hand(copy.deepcopy(model).eval(), x).float()
        assert not torch.allclose(by_hand(copy.deepcopy(model).train(), x).float(), expected,
                                  rtol=1e-3)
    first, second = code(model.train(), x), code(model.train(), x)
    assert torch.equal(first, second)
    torch.testing.assert_close(first.float(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("script", ["ae", "classify"])
def test_training_turns_dropout_back_on_after_each_validation(script):
    def dropout_flags(model):
        """Whether the model's first Dropout layer is in training mode, at each forward pass."""
        first = next(m for m in model.modules() if isinstance(m, nn.Dropout))
        flags = []
        first.register_forward_hook(lambda module, inputs, output: flags.append(module.training))
        return flags
    torch.manual_seed(0)
    x, y, x_val, y_val = (torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,)),
                          torch.rand(6, 1, 28, 28), torch.randint(0, 10, (6,)))
    if script == "ae":
        model = ae.autoencoder(3, 0.5)
        flags = dropout_flags(model)
        ae.fit(model, torch.optim.SGD(model.parameters(), lr=0.01), x, x_val, 2, 4, seed=0)
    else:
        model = classify.Classifier(common.Encoder(3, 0.5), 8, 8, dropout=0.5)
        flags = dropout_flags(model)
        classify.fit(model, [torch.optim.SGD(model.parameters(), lr=0.01)], x, y, 2, 4, seed=0,
                     val=(x_val, y_val))
    # each epoch: two training batches with dropout on, then the validation with it off
    assert flags == [True, True, False] * 2


@pytest.mark.parametrize("script, phase, key", [(s, p, k) for s, losses in WATCHED.items()
                                                for p, k in losses])
def test_each_fit_stops_at_the_epoch_where_any_loss_it_watches_is_not_finite(
        script, phase, key, monkeypatch, capsys):
    """ae.fit, classify.fit and vae.fit: a NaN in any one of the losses, training or
    validation, at epoch 2 of 4 stops the run there, before that epoch is recorded or
    reported (on_epoch), and says so."""
    module = {"ae": ae, "classify": classify, "vae": vae}[script]
    nan_in(phase, key, module, monkeypatch, at_call=2)
    x, reported = torch.rand(8, 1, 28, 28), []
    on_epoch = lambda epoch, validation: reported.append(epoch)
    if script == "classify":
        history = classify.fit(None, [], x, torch.zeros(8, dtype=torch.long), 4, 4, seed=0,
                               val=(x, torch.zeros(8, dtype=torch.long)), on_epoch=on_epoch)
    else:
        history = module.fit(None, None, x, x, 4, 4, seed=0, on_epoch=on_epoch)
    assert history["diverged"] == 2 and reported == [1]
    assert "diverged at epoch 2" in capsys.readouterr().out
    assert all(len(v) == 1 for k, v in history.items() if k != "diverged"), history


# --- ae.py: what each fit sees -----------------------------------------------

def test_the_autoencoder_and_the_studies_never_read_the_test_set(data_dir, quick_ae, tmp_path,
                                                                 monkeypatch):
    calls = {}                                   # which parts of Fashion-MNIST are read
    spy(monkeypatch, common, "read_fashion_mnist", calls)
    ae.main([*QUICK, "--data-dir", str(data_dir), "--out-dir", str(tmp_path)])
    shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")
    for study in ("ae", "classifier", "vae"):
        tune.main([study, *TINY, "--trials", "1", *CPU, "--data-dir", str(data_dir),
                   "--out-dir", str(tmp_path)])
    assert {kwargs["train"] for _, kwargs in calls["read_fashion_mnist"]} == {True}


def test_pca_baseline_is_fitted_on_the_training_images_and_scores_the_validation_images():
    g = torch.Generator().manual_seed(0)
    # training images vary along 5 patterns of the top rows; validation images along those
    # plus 5 of the bottom rows, with another mean: a PCA fitted on the validation images
    # would reconstruct them far better than one fitted on the training images
    top, bottom = torch.zeros(5, 28, 28), torch.zeros(5, 28, 28)
    top[:, :10] = torch.randn(5, 10, 28, generator=g)
    bottom[:, 18:] = torch.randn(5, 10, 28, generator=g)
    x_train = 0.5 + 0.1 * torch.randn(60, 5, generator=g) @ top.flatten(1)
    x_val = 0.4 + 0.1 * torch.randn(20, 5, generator=g) @ (top + bottom).flatten(1)
    x_train, x_val, k = x_train.view(60, 1, 28, 28), x_val.view(20, 1, 28, 28), 5

    def by_svd(fit_on, scored):   # the reference: numpy's SVD of the centred images
        a, b = fit_on.flatten(1).double().numpy(), scored.flatten(1).double().numpy()
        mean = a.mean(0)
        _, _, vt = np.linalg.svd(a - mean, full_matrices=False)
        x_hat = (b - mean) @ vt[:k].T @ vt[:k] + mean
        return ((x_hat - b) ** 2).mean()
    expected, on_val = by_svd(x_train, x_val), by_svd(x_val, x_val)
    assert on_val < expected / 2                  # the two fits give different numbers
    assert ae.pca_val_mse(x_train, x_val, k) == pytest.approx(expected, rel=1e-4)


def test_ae_py_fits_every_pca_baseline_on_the_training_images(data_dir, tmp_path,
                                                              monkeypatch):
    """compare_optimizers and refit, called by ae.main: PCA with d components (and with 64
    for Table 4's d = 185) fitted on the 48,000 (here 200) and scored on the 12,000 (50)."""
    calls = {}
    spy(monkeypatch, ae, "pca_val_mse", calls)
    monkeypatch.setattr(ae, "plot_compare", lambda *args: None)   # figures: not tested here
    monkeypatch.setattr(ae, "plot_refit", lambda *args: None)
    ae.main(["--quick", "--subset", str(SUBSET), "--epochs", "1", *CPU,
             "--data-dir", str(data_dir), "--out-dir", str(tmp_path)])
    (x_train, _), (x_val, _), _ = splits(data_dir)
    seen = calls["pca_val_mse"]
    assert [args[2] for args, _ in seen] == [2, 185, 64]       # compare d = 2; refit d, 64
    for (fit_on, scored, _), _ in seen:
        assert torch.equal(fit_on, x_train) and torch.equal(scored, x_val)
    results = json.loads((tmp_path / "ae.json").read_text())
    assert results["refit"]["pca_val_mse"] == ae.pca_val_mse(x_train, x_val, 185)


# --- ae.py: the settings and --seed ------------------------------------------

def test_quick_sets_defaults_but_explicit_flags_win():
    args = plumbing.cli.parse_args(ae.build_parser(), ae.QUICK, ["--quick", "--epochs", "3"])
    assert args.epochs == 3 and args.subset == ae.QUICK["subset"]
    args = plumbing.cli.parse_args(ae.build_parser(), ae.QUICK, [])
    assert args.epochs == 42 and args.subset == 0 and args.lr is None   # the tables: below


# flags -> {part: (d, dropout, [(optimiser, lr, weight decay) of each run])}
AE_CASES = {
    "tables": ([], {"compare": (2, 0.2, [("Adam", 0.0005, 0.0001), ("SGD", 0.0005, 0.0001)]),
                    "refit": (185, 0.005, [("Adam", 0.0058, 1.038e-5)])}),
    # the file's d, optimiser and weight decay win over both tables; the flags' lr and
    # dropout win over the file's (0.0123, 0.0625)
    "file and flags": (["--lr", "0.0456", "--dropout", "0.125"],
                       {"compare": (3, 0.125, [("Adam", 0.0456, 0.000321),
                                               ("SGD", 0.0456, 0.000321)]),
                        "refit": (3, 0.125, [("SGD", 0.0456, 0.000321)])}),
}


@pytest.mark.parametrize("case", AE_CASES)
def test_ae_settings_reach_each_optimiser_and_model(case, data_dir, tmp_path, monkeypatch):
    """Section 2.1's values reach part compare, Table 4's part refit; a --params file wins
    over both tables and a flag over the file, in both parts."""
    flags, expected = AE_CASES[case]
    write_tuned(tmp_path / "tuned_ae.json", "ae", {"d": 3, "optimizer": "SGD", "lr": 0.0123,
                                                   "dropout": 0.0625, "weight_decay": 0.000321})
    if case != "tables":
        flags = flags + ["--params", str(tmp_path / "tuned_ae.json")]
    made = spy_on_optimizers(monkeypatch, ae)
    models = spy_on_calls(monkeypatch, ae, "autoencoder")
    monkeypatch.setattr(ae, "plot_compare", lambda *args: None)
    monkeypatch.setattr(ae, "plot_refit", lambda *args: None)
    ae.main([*QUICK, *flags, "--data-dir", str(data_dir), "--out-dir", str(tmp_path)])
    runs = {"compare": made[:2], "refit": made[2:]}
    for part, (d, dropout, settings) in expected.items():
        assert [r.setting for r in runs[part]] == settings, part
        for record in runs[part]:
            model = owner(models, record)                  # every weight of the AE
            # d as the layers have it: the encoder's output, the decoder's input
            linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
            assert {linears[1].out_features, linears[2].in_features} == {d}, part
            assert dropouts(model) == [dropout] * 4, part  # encoder and decoder
    # classify.py and explore.py rebuild the AE and its optimiser from ae.pt's settings
    settings = plumbing.checkpoints.load_checkpoint(tmp_path / "ae.pt", "")["settings"]
    source = json.loads((tmp_path / "ae.json").read_text())["refit"]["source"]
    assert (str(tmp_path / "tuned_ae.json") in source) == (case != "tables")
    d, dropout, [(name, lr, weight_decay)] = expected["refit"]
    assert {k: settings[k] for k in AE_SETTINGS} == {
        "d": d, "dropout": dropout, "optimizer": name, "lr": lr, "weight_decay": weight_decay}


def test_seed_fixes_the_initial_weights_and_batch_orders_of_adam_sgd_and_the_refit(monkeypatch):
    """Section 3.1: Adam and SGD from the same initial weights and batch orders; those and the
    refit's set by --seed; each epoch shuffles anew."""
    made = spy_on_optimizers(monkeypatch, ae)
    orders = spy_on_batches(monkeypatch, ae)
    x = torch.rand(40, 1, 28, 28)
    p = {"d": 3, "optimizer": "Adam", "lr": 0.001, "dropout": 0.1, "weight_decay": 0.0}
    runs = []
    for seed in (3, 3, 4):
        made.clear(), orders.clear()
        args = plumbing.cli.parse_args(ae.build_parser(), {}, ["--epochs", "2", "--batch-size", "8",
                                                         "--seed", str(seed)])
        ae.compare_optimizers(ae.SECTION_2_1, args, torch.device("cpu"), x, x[:8], x[:1])
        ae.refit(p, args, torch.device("cpu"), x, x[:8])
        adam, sgd, refit = made
        assert same(adam.initial, sgd.initial) and same(orders[:2], orders[2:4])  # 2 epochs each
        runs.append((adam.initial, refit.initial, list(orders)))
    for a, b, c in zip(*runs):                # initial weights, batch orders
        assert same(a, b) and not same(a, c)
    orders = runs[0][2]
    assert not torch.equal(orders[0], orders[1])          # each epoch shuffles anew


def test_the_ae_at_d_2_is_drawn_over_the_box_of_the_notebooks_sampler(data_dir, tmp_path,
                                                                        monkeypatch):
    """fig_ae_codes_2d.png: the Adam model's codes of the validation images beside its decoder
    over a grid whose corners are the min-max box of its codes of the training images, the
    box explore.sample_uniform_box draws from; top row at the largest z2."""
    calls, returned = {}, spy_on_calls(monkeypatch, ae, "compare_optimizers")
    spy(monkeypatch, ae, "plot_latent_plane", calls)
    ae.main(["--part", "compare", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path)])
    (codes, y, names, z, images, path, *_), _ = calls["plot_latent_plane"][0]
    assert path == tmp_path / "fig_ae_codes_2d.png" and path.stat().st_size > 10_000
    encoder, decoder = returned[0]["Adam"]["model"].eval()
    (x_train, _), (x_val, y_val) = common.load_train_val(data_dir, "cpu", 300)
    with torch.no_grad():
        z_train = encoder(x_train)
        torch.testing.assert_close(codes, encoder(x_val))
        torch.testing.assert_close(images, decoder(z.flatten(0, 1)).unflatten(0, (20, 20)))
    assert torch.equal(y, y_val) and names == common.CLASSES and z.shape == (20, 20, 2)
    lo, hi = z_train.min(0).values, z_train.max(0).values
    torch.testing.assert_close(z[0, 0], torch.stack([lo[0], hi[1]]))   # top left
    torch.testing.assert_close(z[-1, -1], torch.stack([hi[0], lo[1]]))  # bottom right


# --- ae.py: end to end, on the real data -------------------------------------

def test_ae_quick_end_to_end_on_real_data(quick_ae):
    for figure in ("fig01_loss_adam_vs_sgd.png", "fig07_training_progress.png",
                   "fig_ae_codes_2d.png", "fig02_reconstruction_bag.png",
                   "fig10_reconstructions.png"):
        assert (quick_ae / figure).stat().st_size > 10_000
    results = json.loads((quick_ae / "ae.json").read_text())
    assert results["compare"]["settings"]["quick"] and results["refit"]["settings"]["epochs"] == 2
    for name in ("Adam", "SGD"):
        assert len(results["compare"][name]["val_mse"]) == 2
    refit = results["refit"]
    assert refit["params"]["d"] == 185 and refit["source"] == "report"
    assert refit["val_mse"][-1] < refit["val_mse"][0]        # it learned something
    assert 0 < refit["pca_val_mse"] < refit["pca_bottleneck_val_mse"] < 0.05   # 185 vs 64
    assert refit["params"] == ae.TABLE_4 and results["compare"]["params"] == ae.SECTION_2_1
    _, encoder, decoder = ae.load_ae(quick_ae / "ae.pt")          # as classify.py reads it
    assert encoder.d == 185 and decoder(encoder(torch.rand(2, 1, 28, 28))).shape == (2, 1, 28, 28)


# =============================================================================
# tune.py: the search spaces, one Optuna trial, the pruner, the study
# =============================================================================

# --- tune.py: the search spaces ----------------------------------------------

@pytest.mark.parametrize("study", ["ae", "classifier", "vae"])
def test_every_report_value_lies_inside_its_search_space(study):
    table = {"ae": ae.TABLE_4, "classifier": classify.TABLE_5, "vae": vae.TABLE_7}[study]
    trial = optuna.create_study().ask()
    params = getattr(tune, f"suggest_{study}")(trial)
    assert set(params) == set(table) == set(trial.distributions)
    for name, value in table.items():
        distribution = trial.distributions[name]
        assert distribution._contains(distribution.to_internal_repr(value)), (name, value)
        assert params[name] == trial.params[name]           # what is suggested is what is used


# --- tune.py: one trial: its training, the pruner, divergence, out of memory ---

def test_the_median_pruner_prunes_after_five_trials_and_two_epochs(tmp_path):
    argv = ["ae", "--out-dir", str(tmp_path)]
    args = plumbing.cli.parse_args(tune.build_parser(), tune.QUICK, argv)
    args.study_name = "pruning"
    study = tune.open_study(args, f"sqlite:///{tmp_path / 'optuna.db'}")
    good = {1: 0.1, 2: 0.1, 3: 0.1}

    def bad_trial():
        trial = study.ask()
        trial.report(1.0, 1)
        at_epoch_1 = trial.should_prune()
        trial.report(1.0, 2)
        at_epoch_2 = trial.should_prune()
        study.tell(trial, state=TrialState.PRUNED)
        return at_epoch_1, at_epoch_2
    for _ in range(4):
        study.add_trial(optuna.trial.create_trial(value=0.1, intermediate_values=good))
    assert bad_trial() == (False, False)      # 4 earlier trials: not yet (n_startup_trials=5)
    study.add_trial(optuna.trial.create_trial(value=0.1, intermediate_values=good))
    assert bad_trial() == (False, True)       # 5 earlier: pruned, but never at epoch 1


def neg_elbo_by_hand(model, xb, _=None):
    # -ELBO = BCE summed over pixels + KL(q || N(0, I)), both averaged over images
    mu, logvar = model.encode(xb)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(1)
    bce = F.binary_cross_entropy_with_logits(model.decoder(z, logits=True), xb, reduction="sum")
    return (bce + kl.sum()) / len(xb)


def trial_by_hand(study, p, ae_ckpt):
    """A trial of `study` with the values p, written by hand: (model, optimisers, the training
    loss(model, x, y), the validation value(model, x_val, y_val)); ae_ckpt: the classifier's AE."""
    make = lambda kind, params, lr, wd: getattr(torch.optim, kind)(params, lr=lr, weight_decay=wd)
    if study == "ae":
        model = nn.Sequential(common.Encoder(p["d"], p["dropout"]),
                              common.Decoder(p["d"], p["dropout"]))
        mse = lambda m, xb, _: F.mse_loss(m(xb), xb)
        return (model, [make(p["optimizer"], model.parameters(), p["lr"], p["weight_decay"])],
                mse, lambda m, xv, _: mse(m, xv, None).item())
    if study == "vae":
        model = vae.VAE(p["d"])
        return (model, [make("Adam", model.parameters(), p["lr"], p["weight_decay"])],
                neg_elbo_by_hand, lambda m, xv, _: neg_elbo_by_hand(m, xv).item())
    s = ae_ckpt["settings"]
    encoder = common.Encoder(s["d"], s["dropout"])        # a fresh copy of the AE's encoder
    encoder.load_state_dict(ae_ckpt["encoder"])
    mlp = common.kaiming_init(nn.Sequential(
        nn.Linear(s["d"], p["no1"]), nn.ReLU(), nn.Dropout(p["mlp_dropout"]),
        nn.Linear(p["no1"], p["no2"]), nn.ReLU(), nn.Dropout(p["mlp_dropout"]),
        nn.Linear(p["no2"], 10)))
    optimizers = [make(p["mlp_optimizer"], mlp.parameters(), p["mlp_lr"], p["mlp_weight_decay"]),
                  make(s["optimizer"], encoder.parameters(), s["lr"], s["weight_decay"])]
    return (nn.Sequential(encoder, mlp), optimizers, lambda m, xb, yb: F.cross_entropy(m(xb), yb),
            lambda m, xv, yv: (m(xv).argmax(1) == yv).float().mean().item())


def by_hand_epochs(model, optimizers, x, y, x_val, y_val, loss_fn, value_fn, epochs, seed):
    """The reference loop: seed the batch order, then per epoch train in shuffled slices of 256
    (zero the gradients, the loss, backward, step) and compute the validation value."""
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=generator).split(256):
            loss = loss_fn(model, x[idx], y[idx])
            for o in optimizers:
                o.zero_grad()
            loss.backward()
            for o in optimizers:
                o.step()
        model.eval()
        with torch.no_grad():
            values.append(value_fn(model, x_val, y_val))
    return values


# the values of the trials each study is given (the classifier's: two, of two optimisers)
ENQUEUED = {"ae": [{"d": 8, "optimizer": "SGD", "lr": 0.003, "dropout": 0.1, "weight_decay": 1e-5}],
            "vae": [{"d": 6, "lr": 0.002, "weight_decay": 1e-4}],
            "classifier": [{"no1": 16, "no2": 8, "mlp_optimizer": "SGD", "mlp_lr": 0.05,
                            "mlp_dropout": 0.2, "mlp_weight_decay": 1e-4},
                           {"no1": 16, "no2": 8, "mlp_optimizer": "Adam", "mlp_lr": 0.003,
                            "mlp_dropout": 0.2, "mlp_weight_decay": 1e-4}]}


@pytest.mark.parametrize("study", ENQUEUED)
def test_an_enqueued_trial_trains_and_reports_as_written_by_hand(study, data_dir, quick_ae,
                                                                 tmp_path):
    """Each epoch's validation value (what the pruner sees: the MSE, the -ELBO, the accuracy)
    and the trial's value (the last) as a loop written by hand computes them, from the trial's
    seed (--seed + its number; the classifier from a fresh copy of the AE's encoder); the best
    trial's values in tuned_<study>.json."""
    shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")
    argv = [study, *TINY, "--epochs", "2", "--trials", str(len(ENQUEUED[study])), "--seed", "5",
            "--data-dir", str(data_dir), "--out-dir", str(tmp_path)]
    args = plumbing.cli.parse_args(tune.build_parser(), tune.QUICK,
                                   argv + ["--study-name", f"{study}-quick"])
    for p in ENQUEUED[study]:
        tune.open_study(args, f"sqlite:///{tmp_path / 'optuna.db'}").enqueue_trial(p)
    tune.main(argv)
    trials = load(tmp_path, f"{study}-quick").trials
    (x, y), (x_val, y_val) = common.load_train_val(data_dir, "cpu", 300)
    for trial in trials:
        plumbing.cli.seed_everything(5 + trial.number)
        model, optimizers, loss, value = trial_by_hand(
            study, trial.params, torch.load(tmp_path / "ae.pt", weights_only=True))
        expected = by_hand_epochs(model, optimizers, x, y, x_val, y_val, loss, value, 2,
                                  seed=5 + trial.number)
        assert [trial.intermediate_values[e] for e in (1, 2)] == pytest.approx(expected, rel=1e-4)
        assert trial.value == pytest.approx(expected[-1], rel=1e-4)
    best = (max if study == "classifier" else min)(trials, key=lambda t: t.value)
    tuned = json.loads((tmp_path / f"tuned_{study}.json").read_text())
    assert tuned["best_trial"] == best.number and tuned["params"] == best.params


def test_out_of_memory_fails_its_trial_only_and_other_errors_stop(data_dir, tmp_path,
                                                                 monkeypatch, capsys):
    fit, calls = ae.fit, []

    def sometimes_too_big(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory (a stand-in)")
        return fit(*args, **kwargs)
    monkeypatch.setattr(ae, "fit", sometimes_too_big)
    argv = ["ae", *TINY, "--trials", "1", "--data-dir", str(data_dir), "--out-dir", str(tmp_path)]
    tune.main(argv)
    assert [t.state for t in load(tmp_path, "ae-quick").trials] == [TrialState.FAIL,
                                                                   TrialState.COMPLETE]
    assert "trial 0 failed: out of memory" in capsys.readouterr().out
    monkeypatch.setattr(ae, "fit", lambda *a, **k: 1 / 0)            # a bug: not caught
    with pytest.raises(ZeroDivisionError):
        tune.main(argv[:-4] + ["--trials", "3"] + argv[-4:])


@pytest.mark.parametrize("study, phase", [(s, p) for s in ("ae", "classifier", "vae")
                                          for p in ("train", "val")])
def test_a_trial_whose_training_or_validation_loss_diverges_is_pruned(
        study, phase, tiny_ae, data_dir, tmp_path, monkeypatch):
    """tune.py: a NaN in trial 0's training loss alone, or in its validation value alone,
    prunes trial 0 as diverged; trial 1 completes and is the best."""
    module = {"ae": ae, "classifier": classify, "vae": vae}[study]
    key = [k for p, k in WATCHED[module.__name__] if p == phase][0]
    nan_in(phase, key, module, monkeypatch)
    monkeypatch.setattr(tune, "plot_study", lambda *args: None)
    tune.main([study, *TINY, "--trials", "2", "--checkpoint", str(tiny_ae / "ae.pt"),
               "--data-dir", str(data_dir), "--out-dir", str(tmp_path)])
    trials = load(tmp_path, f"{study}-quick").trials
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.COMPLETE]
    assert trials[0].user_attrs["diverged"] == 1 and trials[0].intermediate_values == {}
    tuned = json.loads((tmp_path / f"tuned_{study}.json").read_text())
    assert tuned["diverged_trials"] == [0] and tuned["best_trial"] == 1


# --- tune.py: what each trial sees, and how trials are ranked ----------------

# Two trials of two epochs: the validation values the stand-in fits below report, trial 1 the
# better one; as each fit reports a value, and as its history keeps it (-ELBO = recon + kl)
VAL_VALUE = {"ae": {0: [0.5, 0.4], 1: [0.2, 0.1]},              # MSE: lower is better
             "vae": {0: [500.0, 400.0], 1: [200.0, 100.0]},     # -ELBO: lower is better
             "classifier": {0: [0.2, 0.3], 1: [0.6, 0.7]}}      # accuracy: higher is better
AS_REPORTED = {"ae": lambda v: {"mse": v}, "classifier": lambda v: {"accuracy": v},
               "vae": lambda v: {"recon": v - 10, "kl": 10.0}}


@pytest.mark.parametrize("study", ["ae", "classifier", "vae"])
def test_each_study_trains_on_the_training_split_and_ranks_by_the_validation_value(
        study, tiny_ae, data_dir, tmp_path, monkeypatch):
    seen = []

    def fake_fit(model, optimizer, x, *args, on_epoch=None, name="", **kwargs):
        """A stand-in for ae.fit, vae.fit or classify.fit: records the data and epochs it is
        given, reports the values above, and returns them: no training loss to rank by."""
        x_val, epochs = (kwargs["val"][0], args[1]) if study == "classifier" else args[:2]
        seen.append((x, x_val, epochs))
        reported = [AS_REPORTED[study](v) for v in VAL_VALUE[study][int(name.split()[-1])]]
        for epoch, v in enumerate(reported, 1):
            on_epoch(epoch, v)
        return {**{f"val_{k}": [v[k] for v in reported] for k in reported[0]}, "diverged": None}
    monkeypatch.setattr({"ae": ae, "classifier": classify, "vae": vae}[study], "fit", fake_fit)
    monkeypatch.setattr(tune, "plot_study", lambda *args: None)
    tune.main([study, *TINY, "--epochs", "2", "--trials", "2", "--checkpoint",
               str(tiny_ae / "ae.pt"), "--data-dir", str(data_dir), "--out-dir", str(tmp_path)])
    (x_train, _), (x_val, _) = common.load_train_val(data_dir, "cpu", 300)
    assert [(torch.equal(x, x_train), torch.equal(xv, x_val), n) for x, xv, n in seen] == [
        (True, True, 2)] * 2
    trials = load(tmp_path, f"{study}-quick").trials
    for trial in trials:   # the pruner sees the validation values, and the value is the last
        expected = VAL_VALUE[study][trial.number]
        assert [trial.intermediate_values[e] for e in (1, 2)] == pytest.approx(expected)
        assert trial.value == pytest.approx(expected[-1])
    tuned = json.loads((tmp_path / f"tuned_{study}.json").read_text())
    assert tuned["best_trial"] == 1 and tuned["value"] == pytest.approx(VAL_VALUE[study][1][-1])
    assert tuned["params"] == trials[1].params


# --- tune.py: --seed and the samplers ----------------------------------------

def test_each_worker_seeds_its_own_sampler(tmp_path):
    """reproduce.py gives worker i --seed + i - 1: two workers on a new study draw differently,
    and the same --seed draws the same."""
    def first_draw(seed, name):
        argv = ["ae", *TINY, "--seed", str(seed), "--out-dir", str(tmp_path),
                "--study-name", name]
        args = plumbing.cli.parse_args(tune.build_parser(), tune.QUICK, argv)
        return tune.suggest_ae(tune.open_study(args, f"sqlite:///{tmp_path / 'optuna.db'}").ask())
    assert first_draw(0, "a") == first_draw(0, "b")          # the same --seed: the same draw
    assert first_draw(0, "c") != first_draw(1, "d")          # worker 2's --seed: another
    assert first_draw(0, "a") != first_draw(0, "a")          # a resumed study: new draws
    # a resumed study's sampler: --seed plus the trials held, modulo 2**32
    assert first_draw(2**32 - 1, "e") != first_draw(2**32 - 1, "e")


# --- tune.py: end to end, on the real data -----------------------------------

@pytest.mark.parametrize("study", ["ae", "classifier", "vae"])
def test_one_trial_of_each_study_end_to_end(study, data_dir, quick_ae, tmp_path):
    if study == "classifier":
        shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")
    run("tune.py", study, *TINY, "--trials", "1", "--data-dir", data_dir, "--out-dir", tmp_path)
    assert (tmp_path / f"fig08_tuning_{study}.png").stat().st_size > 10_000
    tuned = json.loads((tmp_path / f"tuned_{study}.json").read_text())
    assert tuned["trials"] == {"complete": 1, "pruned": 0, "failed": 0, "running": 0, "waiting": 0}
    assert tuned["direction"] == ("maximize" if study == "classifier" else "minimize")
    assert tuned["settings"]["trials"] == 1 and tuned["study"] == study
    # the script that uses the tuned values reads them, named by --params
    script, table = {"ae": ae, "classifier": classify, "vae": vae}[study], tune.STUDIES[study].table
    assert set(tuned["params"]) == set(table)
    args = plumbing.cli.parse_args(script.build_parser(), {},
                             ["--params", str(tmp_path / f"tuned_{study}.json")])
    params, source = plumbing.params.resolve_params(args, table, study)
    assert params == tuned["params"] and source.endswith(f"tuned_{study}.json")


def test_two_workers_end_between_n_and_n_plus_one_trials_and_print_nothing_on_stderr(
        data_dir, tmp_path):
    """Optuna's MaxTrialsCallback: with W workers, N <= trials <= N + W - 1; at the largest
    seeds, nothing on stderr (Optuna before 4.4 warns as each trial starts)."""
    command = [sys.executable, str(ROOT / "tune.py"), "ae", *TINY, "--trials", "4", *CPU,
               "--data-dir", str(data_dir), "--out-dir", str(tmp_path)]
    workers = [subprocess.Popen(command + ["--seed", str(2**32 - 2 + i)], cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    outputs, errors = zip(*(w.communicate(timeout=300) for w in workers))
    assert [w.returncode for w in workers] == [0, 0] and errors == ("", ""), errors
    n = sum(t.state.is_finished() for t in load(tmp_path, "ae-quick").trials)
    assert 4 <= n <= 4 + 2 - 1
    # each trial ran in one worker only (how they share them depends on the start times: a
    # worker that starts late may find the study complete and run none)
    assert sum(f"trial {i} complete" in o for i in range(8) for o in outputs) == n


# =============================================================================
# classify.py: the classifier of Table 3, its two optimisers, the one-cycle schedule,
# precision, recall and F1
# =============================================================================

# --- classify.py: the maths --------------------------------------------------

def test_the_confusion_matrix_and_its_metrics_match_ones_worked_by_hand():
    y_true, y_pred = torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 0, 2])
    assert classify.confusion_matrix(y_true, y_pred, k=3).tolist() == [[1, 1, 0], [0, 1, 0],
                                                                       [1, 0, 2]]
    # rows: true class, columns: predicted class
    cm = torch.tensor([[5, 1, 0],
                       [2, 3, 1],
                       [0, 0, 4]])
    m = classify.per_class_metrics(cm)
    assert m["accuracy"] == pytest.approx(12 / 16)
    assert m["precision"] == pytest.approx([5 / 7, 3 / 4, 4 / 5])
    assert m["recall"] == pytest.approx([5 / 6, 3 / 6, 4 / 4])
    # F1 = 2 TP / (2 TP + FP + FN)
    assert m["f1"] == pytest.approx([10 / 13, 6 / 10, 8 / 9])
    assert m["support"] == [6, 6, 4]
    m = classify.per_class_metrics(torch.tensor([[2, 0], [3, 0]]))   # class 1 never predicted
    assert m["precision"][1] == 0 and m["f1"][1] == 0 and m["accuracy"] == pytest.approx(0.4)


def test_the_classifiers_spread_over_seeds_is_the_sample_sd(monkeypatch):
    assert classify.mean_std([0.8, 0.9, 1.0]) == pytest.approx((0.9, 0.1))       # ddof = 1
    assert classify.mean_std([0.8]) == (pytest.approx(0.8), 0.0)                # one seed
    runs = iter({"accuracy": a, "seconds": 1.0, "support": [1], "precision": [a], "recall": [a],
                 "f1": [a]} for a in (0.8, 0.9, 1.0))
    monkeypatch.setattr(classify, "fine_tune_and_test", lambda *args: next(runs))
    summary = classify.run_recipe(None, classify.RECIPES["table5"],
                                  SimpleNamespace(seed=0, seeds=3), None, None, None, None)
    assert summary["accuracy_std"] == pytest.approx(statistics.stdev([0.8, 0.9, 1.0]))


# --- classify.py: the training step, train and eval modes, divergence --------

def test_the_classifiers_two_steps_move_the_mlp_and_the_encoder_each_by_its_optimiser():
    torch.manual_seed(0)
    model = classify.Classifier(common.Encoder(4, 0.5), 8, 6, dropout=0.5)
    x, y = torch.rand(N, 1, 28, 28), torch.randint(0, 10, (N,))
    ae_settings = {"optimizer": "SGD", "lr": 0.05, "weight_decay": 0.01}       # Table 4's keys
    mlp = {"mlp_optimizer": "SGD", "mlp_lr": 0.2, "mlp_weight_decay": 0.001}   # Table 5's keys
    code, reference = copy.deepcopy(model), copy.deepcopy(model)
    torch.manual_seed(1)                     # dropout masks
    got = classify.train_epoch(code, classify.make_optimizers(code, ae_settings, mlp), x, y,
                               BATCH, generator(2))

    torch.manual_seed(1)
    optimizers = [torch.optim.SGD(reference.mlp.parameters(), lr=0.2, weight_decay=0.001),
                  torch.optim.SGD(reference.encoder.parameters(), lr=0.05, weight_decay=0.01)]
    losses = []
    for idx in reference_batches(N, BATCH, seed=2):
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss = cross_entropy(reference(x[idx]), y[idx])
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        losses.append((loss.item(), len(idx)))
    assert_same_update(flat(model.mlp), code.mlp, reference.mlp)
    assert_same_update(flat(model.encoder), code.encoder, reference.encoder)
    assert got["loss"] == pytest.approx(sum(loss * n for loss, n in losses) / N, rel=1e-5)


def learning_rates_of_a_run(recipe, mlp, monkeypatch, epochs=2, n=18, batch_size=4):
    """The learning rate of the MLP's and of the encoder's optimiser at each step of
    classify.fine_tune_and_test (18 images in batches of 4: 5 steps per epoch)."""
    lrs = {}
    make = classify.make_optimizers

    def spy(model, ae_settings, mlp):
        optimizers = make(model, ae_settings, mlp)
        for name, optimizer in zip(("mlp", "encoder"), optimizers):   # the lr at each step
            lrs[name] = []
            optimizer.register_step_pre_hook(
                lambda opt, args, kwargs, seen=lrs[name]: seen.append(opt.param_groups[0]["lr"]))
        return optimizers
    monkeypatch.setattr(classify, "make_optimizers", spy)
    torch.manual_seed(0)
    settings = {"d": 3, "dropout": 0.0, "optimizer": "Adam", "lr": 0.002, "weight_decay": 0.0}
    checkpoint = {"settings": settings, "encoder": common.Encoder(3, 0.0).state_dict()}
    x, y = torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))
    args = argparse.Namespace(epochs=epochs, batch_size=batch_size)
    classify.fine_tune_and_test(checkpoint, {**classify.RECIPES[recipe], "mlp": mlp}, 0, args,
                                x, y, x[:4], y[:4])
    return lrs


def test_our_recipe_follows_the_one_cycle_schedule_at_every_step(monkeypatch):
    def one_cycle_by_hand(peak, total, pct_start=0.3):
        """The one-cycle schedule (Smith & Topin 2019) as torch's OneCycleLR computes it:
        from peak / 25 up to the peak at step pct_start * total - 1, then down to
        peak / 25 / 10^4 at the last step, both ways along a half cosine:
            anneal(a, b, t) = b + (a - b) (1 + cos(pi t)) / 2,  t in [0, 1]."""
        start, end, top = peak / 25, peak / 25 / 1e4, pct_start * total - 1
        anneal = lambda a, b, t: b + (a - b) * (1 + math.cos(math.pi * t)) / 2
        return [anneal(start, peak, k / top) if k <= top else
                anneal(peak, end, (k - top) / (total - 1 - top)) for k in range(total)]
    lrs = learning_rates_of_a_run("ours", classify.OURS, monkeypatch)
    total = 2 * 5                                             # 2 epochs of 5 batches
    for name, peak in (("mlp", classify.OURS["mlp_lr"]), ("encoder", 0.002)):
        assert lrs[name] == pytest.approx(one_cycle_by_hand(peak, total), rel=1e-6), name
        # the landmarks: peak / 25 at the first step, the peak after 30 % of the steps
        # (step 0.3 * 10 - 1 = 2), peak / 25 / 10^4 at the last
        assert lrs[name][0] == pytest.approx(peak / 25)
        assert max(lrs[name]) == pytest.approx(peak) and lrs[name].index(max(lrs[name])) == 2
        assert lrs[name][-1] == pytest.approx(peak / 25 / 1e4)


def test_the_table_5_recipe_keeps_both_learning_rates_constant(monkeypatch):
    lrs = learning_rates_of_a_run("table5", classify.TABLE_5, monkeypatch)
    assert lrs["mlp"] == [classify.TABLE_5["mlp_lr"]] * 10
    assert lrs["encoder"] == [0.002] * 10                    # the AE's own (Table 4's key)


# --- classify.py: what each fit sees -----------------------------------------

def test_the_final_classifier_trains_on_all_training_images(data_dir, quick_ae, tmp_path,
                                                            monkeypatch):
    shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")
    calls = {}
    spy(monkeypatch, classify, "train_epoch", calls)
    classify.main(["--quick", "--epochs", "1", *CPU, "--data-dir", str(data_dir), "--out-dir",
                   str(tmp_path)])
    (x_train, _), (x_val, _) = common.load_train_val(data_dir, "cpu", 2000)
    [((_, _, x, *_), _)] = calls["train_epoch"]                            # its one epoch
    assert torch.equal(x, torch.cat([x_train, x_val]))                     # 2,000 + 500


# --- classify.py: the settings and --seed ------------------------------------

TABLE_5_RECIPE = (12, 74, 0.0676, ("Adam", 0.0002, 0.1679))           # no1, no2, dropout, MLP's
OUR_RECIPE = (128, 74, 0.1, ("Adam", 0.006, 0.0))
FILE_RECIPE = (13, 7, 0.0625, ("SGD", 0.0234, 0.000789))


@pytest.mark.parametrize("flags, recipes", [
    (["--recipe", "both"], {"table5": TABLE_5_RECIPE, "ours": OUR_RECIPE}),
    (["--params", "FILE"], {"table5": FILE_RECIPE}),
])
def test_classifier_optimisers_take_the_recipe_and_the_autoencoders_settings(
        flags, recipes, data_dir, tmp_path, monkeypatch):
    """Two optimisers per run: the MLP's from the recipe (Table 5, a --params file or OURS),
    the encoder's from ae.pt's settings (SGD, lr 0.0123, weight decay 0.000456); the MLP's
    sizes and dropout from the recipe, the encoder's d and dropout from ae.pt."""
    write_ae_checkpoint(tmp_path / "ae.pt")
    write_tuned(tmp_path / "tuned_classifier.json", "classifier", {
        "no1": 13, "no2": 7, "mlp_optimizer": "SGD", "mlp_lr": 0.0234, "mlp_dropout": 0.0625,
        "mlp_weight_decay": 0.000789})
    flags = [str(tmp_path / "tuned_classifier.json") if f == "FILE" else f for f in flags]
    made = spy_on_optimizers(monkeypatch, classify)
    models = spy_on_calls(monkeypatch, classify, "classifier_from_ae")
    monkeypatch.setattr(classify, "plot_confusion_matrix", lambda *args: None)
    classify.main([*QUICK, *flags, "--data-dir", str(data_dir), "--out-dir", str(tmp_path)])
    assert len(models) == len(recipes) and len(made) == 2 * len(recipes)
    for (recipe, (no1, no2, dropout, mlp_setting)), model, (mlp, encoder) in zip(
            recipes.items(), models, zip(made[::2], made[1::2])):
        assert mlp.setting == mlp_setting and mlp.params == {id(p) for p in model.mlp.parameters()}
        assert encoder.setting == ("SGD", 0.0123, 0.000456)
        assert encoder.params == {id(p) for p in model.encoder.parameters()}
        linears = [(m.in_features, m.out_features) for m in model.mlp if isinstance(m, nn.Linear)]
        assert linears == [(5, no1), (no1, no2), (no2, 10)], recipe
        assert dropouts(model.mlp) == [dropout] * 2 and dropouts(model.encoder) == [0.0375] * 2
        if recipe == "ours":   # one-cycle: each optimiser peaks at its own learning rate
            peaks = [o.optimizer.param_groups[0]["max_lr"] for o in (mlp, encoder)]
            assert peaks == [0.006, 0.0123]
    if recipes["table5"] == FILE_RECIPE:                  # named for the file, not Table 5
        source = json.loads((tmp_path / "classify.json").read_text())["table6"]["table5"]["source"]
        assert source.endswith("tuned_classifier.json")
        table6 = (tmp_path / "classify_table6.md").read_text()
        assert "F1, report's recipe, values of tuned_classifier.json" in table6
        assert "Table 5 recipe" not in table6


def test_seed_fixes_the_classifiers_mlp_and_batch_order_not_its_pretrained_encoder(monkeypatch):
    torch.manual_seed(0)
    ae_ckpt = {"settings": AE_SETTINGS,
                  "encoder": common.Encoder(AE_SETTINGS["d"], AE_SETTINGS["dropout"]).state_dict()}
    mlp = {"no1": 6, "no2": 4, "mlp_optimizer": "Adam", "mlp_lr": 1e-3, "mlp_dropout": 0.1,
           "mlp_weight_decay": 0.0}
    made = spy_on_optimizers(monkeypatch, classify)
    orders = spy_on_batches(monkeypatch, classify)
    x, y = torch.rand(40, 1, 28, 28), torch.randint(0, 10, (40,))
    runs = []
    for seed in (3, 3, 4):
        made.clear(), orders.clear()
        classify.fine_tune_and_test(ae_ckpt, {**classify.RECIPES["table5"], "mlp": mlp}, seed,
                                    SimpleNamespace(epochs=2, batch_size=8), x, y, x[:8], y[:8])
        mlp_weights, encoder_weights = made[0].initial, made[1].initial
        assert same(encoder_weights, list(ae_ckpt["encoder"].values()))
        runs.append((mlp_weights, list(orders)))
    for a, b, c in zip(*runs):                # the MLP's initial weights, batch order
        assert same(a, b) and not same(a, c)


def test_classify_runs_the_seeds_from_seed_upwards(data_dir, tmp_path, monkeypatch):
    write_ae_checkpoint(tmp_path / "ae.pt")
    monkeypatch.setattr(classify, "plot_confusion_matrix", lambda *args: None)
    classify.main([*QUICK, "--seed", "7", "--seeds", "2", "--data-dir", str(data_dir),
                   "--out-dir", str(tmp_path)])
    runs = json.loads((tmp_path / "classify.json").read_text())["table6"]["table5"]["runs"]
    assert [r["seed"] for r in runs] == [7, 8]


# --- classify.py: end to end, on the real data -------------------------------

def test_classify_quick_end_to_end(data_dir, quick_ae, tmp_path):
    shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")
    run("classify.py", "--quick", "--recipe", "both", "--data-dir", data_dir,
        "--out-dir", tmp_path)
    assert (tmp_path / "fig_confusion_matrix.png").stat().st_size > 10_000
    results = json.loads((tmp_path / "classify.json").read_text())
    assert results["table6_run"]["settings"]["recipe"] == "both"
    report = results["table6"]["table5"]
    assert report["mlp"]["no1"] == 12 and report["source"] == "Table 5"
    run0 = report["runs"][0]
    assert sum(run0["support"]) == 500 and len(run0["f1"]) == 10
    assert run0["accuracy"] > 0.2                        # chance is 0.1
    assert results["table6"]["ours"]["mlp"]["no1"] == classify.OURS["no1"]
    table6 = (tmp_path / "classify_table6.md").read_text()
    assert "Ankle boot" in table6 and "90.08" in table6


# =============================================================================
# explore.py: t-SNE, the 10-NN accuracy, the smoothness, Figure 4's samplers, the
# interpolations
# =============================================================================

# --- explore.py: the maths ---------------------------------------------------

def test_perplexity_calibration_reaches_the_target_entropy():
    torch.manual_seed(0)
    x = torch.randn(300, 5) * torch.tensor([1.0, 2.0, 3.0, 10.0, 0.1])
    P, H = explore.conditional_p(torch.cdist(x, x).square(), perplexity=30)
    entropy = -torch.special.xlogy(P, P).sum(1)                # computed apart from H
    assert torch.allclose(entropy, torch.full((300,), math.log(30)), atol=1e-3)
    assert torch.allclose(H, entropy, atol=1e-4)
    assert torch.allclose(P.sum(1), torch.ones(300), atol=1e-5)
    assert torch.all(P.diagonal() == 0)


def test_tsne_separates_well_separated_gaussian_blobs():
    torch.manual_seed(0)
    centres = 20 * torch.eye(10)                               # 10 blobs in 10-D, far apart
    y = torch.arange(10).repeat_interleave(30)                 # (300,)
    x = centres[y] + torch.randn(300, 10)
    Y, kl = explore.tsne(x, perplexity=30, iters=300, log_every=0)
    assert Y.shape == (300, 2) and torch.isfinite(Y).all()
    assert explore.knn_accuracy(Y, y, k=10) > 0.98
    assert 0 < kl < 2


def test_bilinear_grid_has_the_four_codes_at_its_corners():
    corners = torch.rand(4, 784)
    grid = explore.bilinear_grid(lambda z: z.view(-1, 1, 28, 28), corners, size=10)
    assert grid.shape == (10, 10, 1, 28, 28)
    got = torch.stack([grid[0, 0], grid[0, -1], grid[-1, 0], grid[-1, -1]]).flatten(1)
    assert torch.allclose(got, corners)
    assert torch.allclose(grid[0, 5].flatten(), corners[0] + 5 / 9 * (corners[1] - corners[0]))


def test_gaussian_samples_have_the_mean_and_covariance_of_the_codes():
    torch.manual_seed(0)
    z = torch.randn(5000, 3) @ torch.tensor([[2.0, 0, 0], [1, 1, 0], [0, 0, 0.1]]) + 3
    s = explore.sample_gaussian(z, 20000, torch.Generator().manual_seed(0))
    assert torch.allclose(s.mean(0), z.mean(0), atol=0.05)
    assert torch.allclose(torch.cov(s.T), torch.cov(z.T), atol=0.1)
    box = explore.sample_uniform_box(z, 1000, torch.Generator().manual_seed(0))
    assert torch.all(box >= z.min(0).values) and torch.all(box <= z.max(0).values)


def clustered_points(n=24, seed=0):
    """n points in 3-D, float64: a tight cluster, a loose one and a few far points, so
    that the precisions beta_i differ and p_j|i != p_i|j."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    x[: n // 3] *= 0.1
    x[n // 3: 2 * n // 3] = 2 * x[n // 3: 2 * n // 3] + 5
    x[-3:] *= 8
    return x


def conditional_p_by_hand(x, perplexity):
    """p_j|i of the rows of x (n, D): squared distances by broadcasting, then for each row
    beta_i by bisection until the entropy of p_.|i is log(perplexity) nats."""
    x = x.double().numpy()
    D2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)                # (n, n)
    n, target = len(x), math.log(perplexity)
    P = np.zeros((n, n))
    for i in range(n):
        d = np.delete(D2[i], i)                                         # the other n - 1

        def p_of(beta):
            e = np.exp(-beta * (d - d.min()))
            return e / e.sum()

        def entropy(beta):
            p = p_of(beta)
            p = p[p > 0]
            return -(p * np.log(p)).sum()
        lo, hi = 0.0, 1.0
        while entropy(hi) > target:                                     # H falls with beta
            lo, hi = hi, 2 * hi
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if entropy(mid) > target else (lo, mid)
        assert abs(entropy(hi) - target) < 1e-9
        P[i, np.arange(n) != i] = p_of(hi)
    return torch.tensor(P)


def test_conditional_p_matches_a_bisection_written_by_hand():
    x = clustered_points()
    expected = conditional_p_by_hand(x, 5.0)
    D2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    P, H = explore.conditional_p(D2, 5.0)
    assert torch.allclose(P, expected, rtol=1e-4, atol=1e-7)
    assert torch.allclose(H, torch.full((len(x),), math.log(5.0), dtype=H.dtype), atol=1e-4)


@pytest.mark.parametrize("perplexity", [3.0, 8.0])
def test_affinities_are_the_symmetrised_conditionals_of_squared_distances(perplexity):
    """p_ij = (p_j|i + p_i|j) / 2n from the coordinates themselves."""
    x = clustered_points()
    n = len(x)
    P_cond = conditional_p_by_hand(x, perplexity)
    assert not torch.allclose(P_cond, P_cond.T, atol=1e-3)    # asymmetric: the transpose counts
    expected = (P_cond + P_cond.T) / (2 * n)
    P = explore.affinities(x, perplexity)
    assert torch.allclose(P, expected, rtol=1e-4, atol=1e-9)   # observed: 6e-5, 5e-8
    assert P.sum().item() == pytest.approx(1, abs=1e-9)
    # float32 codes, as explore.py passes them, give the same P
    P32 = explore.affinities(x.float(), perplexity)
    assert torch.allclose(P32.double(), expected, rtol=1e-3, atol=1e-7)


def random_affinities(n=25, seed=0):
    g = torch.Generator().manual_seed(seed)
    P = torch.rand(n, n, generator=g, dtype=torch.float64)
    P = (P + P.T).fill_diagonal_(0)
    return P / P.sum(), 3 * torch.randn(n, 2, generator=g, dtype=torch.float64)


def test_fast_tsne_gradient_equals_the_reference_and_reuses_its_buffers():
    P, Y = random_affinities()
    expected = explore.kl_gradient_reference(P, Y)
    # buffers holding stale values (NaN), as after an earlier iteration
    kernel, weights = torch.full_like(P, math.nan), torch.full_like(P, math.nan)
    assert torch.allclose(explore.kl_gradient(P, Y, kernel, weights), expected,
                          rtol=1e-10, atol=1e-14)
    Y2 = Y + 0.5                                                     # a translated embedding
    assert torch.allclose(explore.kl_gradient(P, Y2 * 1.3, kernel, weights),
                          explore.kl_gradient_reference(P, Y2 * 1.3), rtol=1e-10, atol=1e-14)


def test_reference_tsne_gradient_matches_autograd_of_the_kl_divergence():
    P, Y0 = random_affinities(n=20, seed=1)
    Y = Y0.clone().requires_grad_(True)
    # C = sum_{i != j} p_ij log(p_ij / q_ij), q_ij = (1 + |y_i - y_j|^2)^-1 / sum_{k != l} ...
    off = ~torch.eye(len(P), dtype=torch.bool)
    kernel = 1 / (1 + (Y[:, None] - Y[None]).square().sum(-1))
    Q = kernel[off] / kernel[off].sum()
    (P[off] * (P[off] / Q).log()).sum().backward()
    assert torch.allclose(explore.kl_gradient_reference(P, Y0), Y.grad, rtol=1e-9, atol=1e-12)


def test_evenness_of_a_walk_with_unequal_steps_worked_by_hand():
    # steps (1, 0), (0, 2), (-3, 0), (0, 4): lengths 1, 2, 3, 4, the largest 4 of 10
    zigzag = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0], [-2.0, 2.0], [-2.0, 6.0]])
    # steps (3, 4) and (0, 1) twice, then (0, 0): lengths 5, 1, 1, 0, the largest 5 of 7
    other = torch.tensor([[0.0, 0.0], [3.0, 4.0], [3.0, 5.0], [3.0, 6.0], [3.0, 6.0]])
    assert explore.evenness(zigzag).item() == pytest.approx(4 / 10)
    assert explore.evenness(torch.stack([zigzag, other])).tolist() == pytest.approx([0.4, 5 / 7])
    # the two ends of the scale: a straight line in 10 equal steps, and one jump
    a, b = torch.rand(2, 784)
    line = explore.decode_line(lambda z: z, a[None], b[None], steps=10)         # (1, 11, 784)
    assert explore.evenness(line).item() == pytest.approx(0.1)
    assert explore.evenness(torch.stack([a] * 5 + [b] * 6)).item() == pytest.approx(1)


def test_smoothness_pairs_distinct_codes_and_measures_their_decoded_walks():
    z = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])            # only 3 codes
    decoded = []

    def decode(codes):          # a nonlinear decoder: the walks are not even
        decoded.append(codes)
        return codes ** 3
    g = torch.Generator().manual_seed(0)
    even = explore.smoothness(decode, z, pairs=60, steps=5, generator=g)
    walks = decoded[0].view(60, 6, 2)
    start, end = walks[:, 0], walks[:, -1]
    first = torch.cdist(start, z).argmin(1)
    last = torch.cdist(end, z).argmin(1)
    assert torch.allclose(z[first], start) and torch.allclose(z[last], end, atol=1e-6)
    assert torch.all(first != last)                                   # distinct codes
    assert len(set(zip(first.tolist(), last.tolist()))) == 6          # every ordered pair
    # each walk's evenness by hand: six equally spaced codes, cubed, largest step / length
    t = torch.linspace(0, 1, 6)[:, None]
    for i, j, e in zip(first.tolist(), last.tolist(), even.tolist()):
        points = (z[i] + t * (z[j] - z[i])) ** 3
        steps = (points[1:] - points[:-1]).norm(dim=1)
        assert e == pytest.approx((steps.max() / steps.sum()).item(), rel=1e-5)
    assert min(even.tolist()) > 1 / 5                                 # cubing made them uneven


def test_knn_accuracy_worked_by_hand_with_ties():
    """k = 2, four groups far apart on a line (class in parentheses); a tie goes to the lower
    class number. Each point's two nearest other points, and the vote:
      -1.5 (7)  0 (2)  1 (2)     0: 1, -1.5 tie -> 2 right;  1: 0, -1.5 tie -> 2 right;
                                 -1.5: 0, 1 -> 2 wrong
      20 (1)  21 (1)  22.5 (4)   20, 21: tie -> 1 right;  22.5: 21, 20 -> 1 wrong
      40 (1)  40.5 (5)  41.2 (1) 40: 40.5, 41.2 tie -> 1 right;  40.5: 40, 41.2 -> 1 wrong;
                                 41.2: 40.5, 40 tie -> 1 right
      60 (3)  61 (6)             60: 61, 41.2 tie -> 1 wrong;  61: 60, 41.2 tie -> 1 wrong
    6 of 11 right. Ties to the higher class: 0; ties to the nearest: 4; the point itself
    counted as its own neighbour: 7."""
    z = torch.tensor([[-1.5], [0.0], [1.0], [20.0], [21.0], [22.5], [40.0], [40.5], [41.2],
                      [60.0], [61.0]])
    y = torch.tensor([7, 2, 2, 1, 1, 4, 1, 5, 1, 3, 6])
    assert explore.knn_accuracy(z, y, k=2) == pytest.approx(6 / 11)
    assert explore.knn_accuracy(z, y, k=2, chunk=4) == pytest.approx(6 / 11)


def test_tsne_exaggerates_p_for_exactly_its_first_iterations(monkeypatch):
    """Early exaggeration (x 12) for iterations 1 .. exaggeration_iters, then P itself."""
    sums, kl_gradient = [], explore.kl_gradient

    def spy(P, *args):
        sums.append(round(P.sum().item(), 4))
        return kl_gradient(P, *args)
    monkeypatch.setattr(explore, "kl_gradient", spy)
    torch.manual_seed(0)
    explore.tsne(torch.randn(40, 3), perplexity=5, iters=7, exaggeration_iters=4, log_every=0)
    assert sums == [12.0] * 4 + [1.0] * 3


# --- explore.py: the models, loaded in eval mode -----------------------------

def test_explore_loads_both_models_in_eval_mode_and_decodes_random_codes_with_dropout_off(
        tmp_path):
    """Dropout off in every module (the AE's codes, as the eval-mode encoder gives them: the
    tests of what each measure sees, below), and in the decoded samples."""
    write_ae_checkpoint(tmp_path / "ae.pt", settings={"d": 3, "dropout": 0.5})
    write_vae_checkpoint(tmp_path / "vae.pt")
    _, _, decoder = ae.load_ae(tmp_path / "ae.pt")
    models = explore.load_models(tmp_path, torch.device("cpu"))
    modules = [models["AE"].encode, models["AE"].decode, models["VAE"].decode]  # modules all
    assert not any(m.training for module in modules for m in module.modules())
    x = torch.rand(20, 1, 28, 28)
    codes = {name: common.batched(m.encode, x) for name, m in models.items()}
    mixture = (torch.tensor([0.5, 0.5], dtype=torch.float64), codes["AE"][:2].double(),
               0.1 * torch.eye(3, dtype=torch.float64).expand(2, 3, 3))
    samples = beyond.samples.all_samples(models, codes["AE"], mixture, 6, generator(7))
    again = beyond.samples.all_samples(models, codes["AE"], mixture, 6, generator(7))
    assert list(samples) == list(again) == ["ae_box", "ae_gaussian", "ae_mixture", "vae_prior"]
    assert all(torch.equal(samples[key], again[key]) for key in samples)
    figure_4 = explore.decoded_samples(models, codes["AE"], 6, generator(7))
    assert list(figure_4) == ["ae_box", "ae_gaussian", "vae_prior"]
    assert torch.equal(figure_4["ae_box"], samples["ae_box"])
    # the first draw of the generator: the box samples, decoded by hand in eval mode
    box = explore.sample_uniform_box(codes["AE"], 6, generator(7))
    with torch.no_grad():
        by_hand = copy.deepcopy(decoder).eval()(box)
        assert not torch.allclose(decoder.train()(box), by_hand, atol=1e-3)
    torch.testing.assert_close(samples["ae_box"], by_hand)


# --- explore.py: what each measure sees --------------------------------------

EXPLORE_FLAGS = ["--quick", "--subset", str(SUBSET), "--tsne-points", "40", "--tsne-iters",
                 "10", "--pairs", "5", "--steps", "4", "--perplexity", "7", "--k", "4",
                 "--seed", "3", *CPU]


SPIED = [(explore, "sample_uniform_box"), (explore, "sample_gaussian"), (explore, "affinities"),
         (explore, "knn_accuracy"), (explore, "smoothness"), (explore, "pca")]


@pytest.fixture(scope="module")
def explore_run(tiny_ae, data_dir, tmp_path_factory):
    """What explore.main (AE only) called the spied functions with, and the splits."""
    run_ = spied_run(explore.main, EXPLORE_FLAGS, SPIED, tiny_ae, data_dir,
                     tmp_path_factory.mktemp("explore"))
    return {**run_, "codes": codes_of(run_["out"], run_["x_test"])}


def test_figure_4s_samplers_are_fitted_to_the_ae_codes_of_the_training_images(explore_run):
    """The min-max box and the Gaussian of Figure 4 (10 draws each) see the AE's codes of
    the training images, never those of the test images."""
    r = explore_run
    train_codes = codes_of(r["out"], r["x_train"])
    for name in ("sample_gaussian", "sample_uniform_box"):
        (args, _), = r["calls"][name]
        assert args[1] == 10 and torch.allclose(args[0], train_codes, atol=1e-6), name
        assert len(args[0]) == SUBSET != len(r["codes"])


def subsample_of(r, rows):
    """The indices of the test codes that `rows` (m, d) are, in their order."""
    index = torch.cdist(rows, r["codes"]).argmin(1)
    assert torch.allclose(r["codes"][index], rows, atol=1e-6)
    return index


def test_each_measure_sees_the_test_images_or_codes_it_names(explore_run):
    """t-SNE: 40 distinct test codes (--tsne-points), --perplexity 7, started from their own
    PCA; Figure 9: PCA of all the AE's test codes. 10-NN of the raw pixels, latent and PCA
    2-D: all 50 test images and their labels; of t-SNE 2-D: the 40 points it embeds and
    theirs; k = --k. Smoothness: walks between the AE's test codes, decoded in eval mode."""
    r = explore_run
    [((x, perplexity), _)] = r["calls"]["affinities"]                     # one model: one
    sub = subsample_of(r, x)
    assert perplexity == 7 and len(x) == 40 and len(sub.unique()) == 40
    (figure_9, _), (tsne_start, _) = r["calls"]["pca"]
    assert torch.allclose(figure_9[0], r["codes"], atol=1e-6) and figure_9[1] == 2
    assert torch.equal(tsne_start[0], x) and tsne_start[1] == 2
    seen = r["calls"]["knn_accuracy"]
    assert len(seen) == 4 and all(k == 4 for (_, _, k), _ in seen)
    (pixels, y_pixels, _), _ = seen[0]
    assert torch.equal(pixels, r["x_test"].flatten(1)) and torch.equal(y_pixels, r["y_test"])
    (latent, y_latent, _), _ = seen[1]
    assert torch.allclose(latent, r["codes"], atol=1e-6) and torch.equal(y_latent, r["y_test"])
    (pca_2d, y_pca, _), _ = seen[2]
    assert pca_2d.shape == (SUBSET // 4, 2) and torch.equal(y_pca, r["y_test"])
    (tsne_2d, y_tsne, _), _ = seen[3]
    assert tsne_2d.shape == (40, 2) and torch.equal(y_tsne, r["y_test"][sub])
    [((decode, z, pairs, steps, _), _)] = r["calls"]["smoothness"]     # one model: one
    assert torch.allclose(z, r["codes"], atol=1e-6) and (pairs, steps) == (5, 4)
    _, _, decoder = ae.load_ae(r["out"] / "ae.pt")
    with torch.no_grad():
        assert torch.allclose(decode(z[:3]), decoder.eval()(z[:3]), atol=1e-6)


class ReportedAsCuda(str):
    """The CPU as tensors take it ("cpu"), with a .type that says "cuda": explore.py's
    choices by device type are made as on a GPU, its sums are the CPU's."""
    type = "cuda"


def test_the_claims_numbers_do_not_depend_on_the_device(tiny_ae, data_dir, tmp_path,
                                                        monkeypatch):
    """With the device reported as cuda and as cpu: the same t-SNE subsample by default
    (3,000 of 10,000 test images), and on the same codes, the same 10-NN accuracies whatever
    t-SNE embeds (all the points, or 20), t-SNE's own aside."""
    args = explore.build_parser().parse_args([])
    on_gpu, on_cpu = (explore.tsne_subsample(10_000, args, device)
                      for device in (ReportedAsCuda("cpu"), torch.device("cpu")))
    assert len(on_cpu) == 3000 and torch.equal(on_gpu, on_cpu)
    monkeypatch.setattr(explore, "plot_figures", lambda *args: None)
    knn = {}
    for device, points in ((ReportedAsCuda("cpu"), "0"), (torch.device("cpu"), "20")):
        monkeypatch.setattr(explore, "pick_device", lambda name: device)
        out = tmp_path / points
        out.mkdir()
        shutil.copy(tiny_ae / "ae.pt", out / "ae.pt")
        explore.main(["--subset", str(SUBSET), "--tsne-points", points, "--tsne-iters", "10",
                      "--pairs", "5", "--perplexity", "5", "--k", "4",
                      "--data-dir", str(data_dir), "--out-dir", str(out)])
        results = json.loads((out / "explore.json").read_text())
        assert results["device"] == "cpu" and results["tsne_points"] == (int(points) or SUBSET // 4)
        knn[points] = results["knn"]
        knn[points]["AE"].pop(explore.TSNE_KNN)
    assert knn["0"] == knn["20"]


# --- explore.py: the settings and --seed -------------------------------------

def test_explores_tsne_subsample_and_smoothness_pairs_follow_the_seed(data_dir, tmp_path,
                                                                      monkeypatch):
    """explore.py's t-SNE subsample and smoothness pairs: the same for the same --seed, other
    for another; with a vae.pt beside ae.pt, the VAE's measures beside the AE's."""
    subsamples = spy_on_calls(monkeypatch, explore, "tsne_subsample")
    evenness = spy_on_calls(monkeypatch, explore, "smoothness")   # of the pairs' walks
    monkeypatch.setattr(explore, "plot_figures", lambda *args: None)
    for i, seed in enumerate((3, 3, 4)):
        out = tmp_path / str(i)
        out.mkdir()
        write_ae_checkpoint(out / "ae.pt")
        write_vae_checkpoint(out / "vae.pt")
        explore.main(["--quick", "--subset", "200", *CPU, "--tsne-points", "20",
                      "--perplexity", "5", "--k", "3", "--tsne-iters", "10", "--pairs", "5",
                      "--seed", str(seed), "--data-dir", str(data_dir), "--out-dir", str(out)])
        results = json.loads((out / "explore.json").read_text())
        assert results["models"]["VAE"]["d"] == 3 and set(results["smoothness"]) == {"AE", "VAE"}
        assert set(results["knn"]["VAE"]) == {"latent", "PCA 2-D", explore.TSNE_KNN}
    for a, b, c in (subsamples, evenness[::2], evenness[1::2]):   # evenness: the AE's, the VAE's
        assert same(a, b) and not same(a, c)


# --- explore.py: end to end, on the real data --------------------------------

def test_explore_quick_end_to_end_on_real_data(quick_ae, data_dir, tmp_path):
    shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")
    proc = run("explore.py", "--quick", "--data-dir", data_dir, "--out-dir", tmp_path)
    assert "vae.pt not found" in proc.stdout                   # the VAE parts are skipped
    for figure in ("fig03_tsne.png", "fig09_pca.png", "fig04_ae_samples.png",
                   "fig05a_ae_interpolation.png"):
        assert (tmp_path / figure).stat().st_size > 10_000
    results = json.loads((tmp_path / "explore.json").read_text())
    assert results["settings"]["quick"] and results["tsne_points"] == 500
    knn = results["knn"]
    assert 0.5 < knn["raw pixels"] < 1                          # far above chance (0.1)
    assert all(0.3 < v <= 1 for v in knn["AE"].values())
    ratio = results["models"]["AE"]["pca_explained_variance_ratio"]
    assert 1 > ratio[0] >= ratio[1] > 0
    # 1/steps = 0.1 is the least possible; a decoder that jumps between images nears 1
    assert 0.1 <= results["smoothness"]["AE"]["mean"] < 0.5
    # the third claim is beyond/samples.py's step: explore.py trains no judge
    assert "samples" not in results and not (tmp_path / "judge.pt").exists()


# =============================================================================
# vae.py: the reparameterisation, the VAE loss (gaussian_kl), training with beta, the
# importance-weighted bound
# =============================================================================

# --- vae.py: the maths -------------------------------------------------------

def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(16, 7), 2 * torch.randn(16, 7)
    q, prior = Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)
    expected = kl_divergence(q, prior).sum(1)                  # (16,), summed over d
    assert torch.allclose(vae.gaussian_kl(mu, logvar), expected, rtol=1e-5, atol=1e-5)
    assert vae.gaussian_kl(torch.zeros(3, 5), torch.zeros(3, 5)).abs().max() < 1e-7


def test_gradients_reach_mu_and_logvar_through_the_sample():
    torch.manual_seed(0)
    mu = torch.randn(4, 3, requires_grad=True)
    logvar = torch.randn(4, 3, requires_grad=True)
    z = vae.reparameterize(mu, logvar)
    z.sum().backward()
    # dz/dmu = 1 and dz/dlogvar = sigma * eps / 2 = (z - mu) / 2
    assert torch.allclose(mu.grad, torch.ones_like(mu))
    assert torch.allclose(logvar.grad, 0.5 * (z - mu).detach(), atol=1e-6)
    assert logvar.grad.abs().min() > 0


def test_loss_is_summed_per_image_and_averaged_over_the_batch():
    # a VAE whose q(z|x) has sigma = exp(-15): its sample is mu, so its loss is fixed
    torch.manual_seed(0)
    model = vae.VAE(4)
    with torch.no_grad():
        model.logvar.weight.zero_()
        model.logvar.bias.fill_(-30.0)
    x = torch.rand(1, 1, 28, 28)
    recon_one, kl_one = vae.loss_terms(model, x)
    recon_many, kl_many = vae.loss_terms(model, x.expand(8, -1, -1, -1))
    assert torch.allclose(recon_one, recon_many, rtol=1e-5)
    assert torch.allclose(kl_one, kl_many, rtol=1e-5)
    # summed over the 784 pixels and the d latent dimensions, not averaged
    mu, logvar = model.encode(x)
    x_hat = model.decoder(mu)
    expected = F.binary_cross_entropy(x_hat, x, reduction="sum")
    assert torch.allclose(recon_one, expected, rtol=1e-4)
    assert torch.allclose(kl_one, vae.gaussian_kl(mu, logvar).sum(), rtol=1e-5)


def test_importance_weights_match_torch_distributions():
    torch.manual_seed(0)
    model, k = vae.VAE(6).eval(), 5
    x = (torch.rand(8, 1, 28, 28) > 0.5).float()
    torch.manual_seed(1)
    got = vae.iw_log_px(model, x, k)                            # (8,)
    torch.manual_seed(1)                                        # the same eps again
    with torch.no_grad():
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(k, *mu.shape)      # (K, 8, d)
        x_hat = model.decoder(z.flatten(0, 1)).view(k, *x.shape)
        log_w = (Bernoulli(probs=x_hat).log_prob(x).sum((2, 3, 4))
                 + Normal(0.0, 1.0).log_prob(z).sum(2)
                 - Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(2))
    expected = torch.logsumexp(log_w, 0) - math.log(k)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-2)


def test_importance_weighted_bound_is_above_the_elbo_and_grows_with_k():
    torch.manual_seed(0)
    model = vae.VAE(6)
    x = torch.rand(32, 1, 28, 28)
    # the ELBO, averaged over 20 samples of z per image
    elbo = -sum(sum(vae.evaluate(model, x).values()) for _ in range(20)) / 20
    bounds = {k: vae.iw_log_px(model, x, k).mean().item() for k in (1, 10, 100)}
    assert bounds[100] >= elbo
    assert bounds[1] < bounds[10] < bounds[100]
    assert abs(bounds[1] - elbo) < abs(bounds[100] - elbo)   # K = 1 is the ELBO itself


# --- vae.py: the training step, train and eval modes, divergence -------------

def test_a_diverging_vae_stops_with_one_line_and_keeps_the_earlier_run(data_dir, tmp_path):
    argv = ["--quick", "--subset", "200", "--epochs", "1", "--iw-samples", "2", *CPU,
            "--data-dir", str(data_dir), "--out-dir", str(tmp_path)]
    vae.main(argv)                                        # a good earlier run
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    # NaN weights must reach the loop's check, not an error inside the loss
    with pytest.raises(SystemExit) as e:
        vae.main(argv + ["--lr", "1e30"])
    assert "training diverged at epoch 1" in str(e.value) and "\n" not in str(e.value)
    # the earlier results, checkpoint and figures are as they were
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_vaes_two_steps_are_sgd_on_the_negative_elbo_with_beta():
    torch.manual_seed(0)
    model, beta = vae.VAE(3), 3.0
    x = torch.rand(N, 1, 28, 28)
    before, code, reference = flat(model), copy.deepcopy(model), copy.deepcopy(model)
    torch.manual_seed(1)                     # the reparameterisation's eps
    got = vae.train_epoch(code, torch.optim.SGD(code.parameters(), lr=1e-4), x, BATCH,
                          generator(2), beta=beta)

    torch.manual_seed(1)                     # the same eps
    optimizer = torch.optim.SGD(reference.parameters(), lr=1e-4)
    terms = []
    for idx in reference_batches(N, BATCH, seed=2):
        xb = x[idx]
        optimizer.zero_grad()
        mu, logvar = reference.encode(xb)
        sigma = torch.exp(0.5 * logvar)
        z = mu + sigma * torch.randn(mu.shape)                            # (B, d)
        logits = reference.decoder(z, logits=True)                        # (B, 1, 28, 28)
        # -log p(x|z) = -sum_i [x_i log sigmoid(l_i) + (1 - x_i) log sigmoid(-l_i)], per image
        recon = -(xb * F.logsigmoid(logits) + (1 - xb) * F.logsigmoid(-logits)).sum() / len(xb)
        kl = kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0)).sum(1).mean()
        (recon + beta * kl).backward()                                    # -ELBO, beta-weighted
        optimizer.step()
        terms.append((recon.item(), kl.item(), len(idx)))
    assert_same_update(before, code, reference)
    # the returned terms are means per image over the epoch, the KL not weighted by beta
    assert got["recon"] == pytest.approx(sum(r * n for r, _, n in terms) / N, rel=1e-5)
    assert got["kl"] == pytest.approx(sum(k * n for _, k, n in terms) / N, rel=1e-5)


# --- vae.py: what each fit sees ----------------------------------------------

def test_the_vae_trains_and_validates_without_the_test_set(data_dir, tmp_path, monkeypatch):
    calls = {}
    spy(monkeypatch, vae, "train_epoch", calls)
    spy(monkeypatch, vae, "evaluate", calls)
    vae.main(["--quick", "--epochs", "2", "--iw-samples", "2", *CPU, "--data-dir", str(data_dir),
              "--out-dir", str(tmp_path)])
    (x_train, _), (x_val, _), (x_test, _) = splits(data_dir, 2000)
    # two epochs of training and validation on their own images, then the test set once
    assert [torch.equal(args[2], x_train) for args, _ in calls["train_epoch"]] == [True] * 2
    evaluated = [args[1] for args, _ in calls["evaluate"]]
    assert len(evaluated) == 3 and all(map(torch.equal, evaluated, [x_val, x_val, x_test]))


# --- vae.py: the settings and --seed -----------------------------------------

def test_a_tuned_file_in_the_out_dir_is_not_read_unless_named(tmp_path):
    """Nothing depends on what happens to be in the folder (a named file: the test below)."""
    write_tuned(tmp_path / "tuned_vae.json", "vae", {"d": 3, "lr": 0.01, "weight_decay": 0.0})
    args = plumbing.cli.parse_args(vae.build_parser(), vae.QUICK, ["--out-dir", str(tmp_path)])
    assert (args.epochs, args.batch_size, args.beta) == (42, 256, 1.0)
    assert plumbing.params.resolve_params(args, vae.TABLE_7, "vae") == (vae.TABLE_7, "report")


@pytest.mark.parametrize("flags, expected", [
    ([], (44, 0.0002, 0.0018, 1.0)),                                     # Table 7
    (["--params", "FILE", "--weight-decay", "0.000654", "--beta", "4"], (7, 0.0123, 0.000654, 4.0)),
])
def test_vae_settings_reach_the_optimiser_and_model(flags, expected, data_dir, tmp_path,
                                                    monkeypatch):
    """Table 7's d, lr and weight decay, or a --params file's (d 7, lr 0.0123, weight decay
    0.000321) with a flag winning over the file, reach Adam and the VAE; --beta every epoch."""
    write_tuned(tmp_path / "tuned_vae.json", "vae",
                {"d": 7, "lr": 0.0123, "weight_decay": 0.000321})
    flags = [str(tmp_path / "tuned_vae.json") if f == "FILE" else f for f in flags]
    made = spy_on_optimizers(monkeypatch, vae)
    models = spy_on_calls(monkeypatch, vae, "VAE")
    calls = {}
    spy(monkeypatch, vae, "train_epoch", calls)
    monkeypatch.setattr(vae, "plot_figures", lambda *args: None)
    vae.main([*QUICK, "--iw-samples", "2", *flags, "--data-dir", str(data_dir),
              "--out-dir", str(tmp_path)])
    d, lr, weight_decay, beta = expected
    assert [kwargs["beta"] for _, kwargs in calls["train_epoch"]] == [beta]   # its one epoch
    [record] = made
    assert record.setting == ("Adam", lr, weight_decay)
    model = owner(models, record)
    assert [model.mu.out_features, model.logvar.out_features,
            model.decoder.linear[0].in_features] == [d, d, d]
    assert all(p == 0 for p in dropouts(model))           # no dropout in the VAE (section 2.5)
    settings = plumbing.checkpoints.load_checkpoint(tmp_path / "vae.pt", "")["settings"]
    assert settings["d"] == d                                            # explore.py's


def test_seed_fixes_the_vaes_weights_batch_order_results_and_samples(data_dir, tmp_path,
                                                                      monkeypatch):
    made = spy_on_optimizers(monkeypatch, vae)
    orders = spy_on_batches(monkeypatch, vae)
    models = spy_on_calls(monkeypatch, vae, "VAE")
    grids = {}                                            # Figure 6 among them
    monkeypatch.setattr(vae, "plot_grid", lambda x, path, *args, **kw: grids.update({path: x}))
    monkeypatch.setattr(vae, "plot_curves", lambda *args: None)
    runs = []
    for i, seed in enumerate((3, 3, 4)):
        made.clear(), orders.clear()
        vae.main([*QUICK, "--iw-samples", "2", "--seed", str(seed), "--data-dir", str(data_dir),
                  "--out-dir", str(tmp_path / str(i))])
        test = json.loads((tmp_path / str(i) / "vae.json").read_text())["test"]
        # the same seed, the same reparameterisation noise and importance samples too
        numbers = torch.tensor([test["recon"], test["kl"], test["iw_log_px"]])
        figure_6 = grids[tmp_path / str(i) / "fig06_vae_samples.png"]   # z ~ N(0, I), decoded
        z = torch.randn(10, 10, models[-1].d, generator=generator(seed))
        torch.testing.assert_close(figure_6, vae.decode(models[-1], z))
        runs.append((made[0].initial, list(orders), numbers, figure_6))
    for a, b, c in zip(*runs):                # weights, batch orders, test numbers, Figure 6
        assert same(a, b) and not same(a, c)


# --- vae.py: end to end, on the real data ------------------------------------

def test_vae_quick_end_to_end_on_real_data(data_dir, tmp_path):
    run("vae.py", "--quick", "--data-dir", data_dir, "--out-dir", tmp_path)
    for figure in ("fig11_vae_loss.png", "fig06_vae_samples.png", "fig05b_vae_traversal.png",
                   "fig_vae_reconstructions.png"):
        assert (tmp_path / figure).stat().st_size > 10_000
    results = json.loads((tmp_path / "vae.json").read_text())
    assert results["params"] == vae.TABLE_7 and results["source"] == "report"
    history, test = results["history"], results["test"]
    assert len(history["val_recon"]) == 2 and history["val_recon"][-1] < history["val_recon"][0]
    values = [v for k, h in history.items() if k != "diverged" for v in h]
    values += [test["neg_elbo"], test["iw_log_px"]]
    assert all(math.isfinite(v) for v in values)
    assert test["neg_elbo"] > 0 and test["kl"] >= 0
    assert -test["iw_log_px"] <= test["neg_elbo"] + 1.0      # the IW bound is the tighter one
    assert test["iw_images"] == test["images"] == 500          # --iw-images 0: all of them
    ckpt = plumbing.checkpoints.load_checkpoint(tmp_path / "vae.pt", "python vae.py")
    assert ckpt["settings"]["d"] == 44 and ckpt["settings"]["beta"] == 1.0    # explore.py's VAE
    plumbing.checkpoints.load_weights(vae.VAE(44), ckpt, "vae", "vae.pt", "")
    assert not (tmp_path / "fig_vae_manifold.png").exists()   # only at d = 2


def test_the_vae_at_d_2_is_drawn_over_the_quantiles_of_its_prior(data_dir, tmp_path,
                                                                 monkeypatch):
    """fig_vae_manifold.png: the means of the test images beside the decoder over z at the
    standard normal's quantiles (i + 0.5) / 20, top row at the largest z2."""
    calls = {}
    spy(monkeypatch, vae, "plot_latent_plane", calls)
    vae.main(["--d", "2", "--iw-samples", "1", *TINY, "--data-dir", str(data_dir),
              "--out-dir", str(tmp_path)])
    (mu, y, names, z, images, path, *_), _ = calls["plot_latent_plane"][0]
    assert path == tmp_path / "fig_vae_manifold.png" and path.stat().st_size > 10_000
    x_test, y_test = common.load_test(data_dir, "cpu", 300)
    model = plumbing.checkpoints.load_weights(
        vae.VAE(2), plumbing.checkpoints.load_checkpoint(tmp_path / "vae.pt", ""), "vae", "", "")
    torch.testing.assert_close(mu, model.encode(x_test)[0].detach())
    assert torch.equal(y, y_test) and names == common.CLASSES and images.shape[:2] == (20, 20)
    levels = torch.distributions.Normal(0.0, 1.0).cdf(z)                  # (20, 20, 2)
    expected = (torch.arange(20) + 0.5) / 20
    torch.testing.assert_close(levels[-1, :, 0], expected)               # z1, left to right
    torch.testing.assert_close(levels[:, 0, 1], expected.flip(0))        # z2, top to bottom
    torch.testing.assert_close(levels[:, :, 0], levels[:1, :, 0].expand(20, 20))  # a grid


# =============================================================================
# beyond/samples.py: the third claim: a mixture fitted by EM (fit_mixture), every sampler
# judged, the verdict
# =============================================================================

# --- beyond/samples.py: the maths --------------------------------------------

def test_em_recovers_two_well_separated_components():
    g = torch.Generator().manual_seed(3)
    n = 4000
    w_true = torch.tensor([0.3, 0.7], dtype=torch.float64)
    mu_true = torch.tensor([[-6.0, 1.0, 0.0], [5.0, -2.0, 3.0]], dtype=torch.float64)
    S_true = torch.stack([random_spd(3, g), 2 * random_spd(3, g)])
    z = beyond.samples.sample_mixture(w_true, mu_true, S_true, n, g)                      # (n, 3)
    weights, means, covs = beyond.samples.fit_mixture(z, 2, torch.Generator().manual_seed(0))
    order = means[:, 0].argsort()          # the component order is arbitrary: sort by x_0
    weights, means, covs = weights[order], means[order], covs[order]
    assert torch.allclose(weights, w_true, atol=0.03)
    assert torch.allclose(means, mu_true, atol=0.15)
    assert torch.allclose(covs, S_true, atol=0.25)
    assert weights.sum().item() == pytest.approx(1, abs=1e-9)


def test_sample_mixture_moments():
    # one component with a full covariance, and the mixing proportions of two
    g = torch.Generator().manual_seed(4)
    mu = torch.tensor([[1.0, -1.0, 2.0]], dtype=torch.float64)
    S = random_spd(3, g)[None]
    z = beyond.samples.sample_mixture(torch.ones(1, dtype=torch.float64), mu, S, 100_000, g)
    assert torch.allclose(z.mean(0), mu[0], atol=0.02)
    assert torch.allclose(torch.cov(z.T), S[0], atol=0.03)
    means = torch.tensor([[-100.0], [100.0]], dtype=torch.float64)
    covs = torch.ones(2, 1, 1, dtype=torch.float64)
    weights = torch.tensor([0.2, 0.8], dtype=torch.float64)
    z = beyond.samples.sample_mixture(weights, means, covs, 20_000, g)
    assert (z[:, 0] > 0).double().mean().item() == pytest.approx(0.8, abs=0.015)


def small_mixture():
    """Three 2-D Gaussians with unequal weights and full covariances, and 40 points."""
    g = torch.Generator().manual_seed(0)
    weights = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
    means = torch.tensor([[0.0, 0.0], [1.5, -1.0], [-1.0, 2.0]], dtype=torch.float64)
    A = torch.randn(3, 2, 2, generator=g, dtype=torch.float64)
    covs = A @ A.transpose(1, 2) + 0.3 * torch.eye(2, dtype=torch.float64)
    x = 1.5 * torch.randn(40, 2, generator=g, dtype=torch.float64)
    return x, weights, means, covs


def test_e_step_with_unequal_weights_matches_torch_distributions():
    x, weights, means, covs = small_mixture()
    r, mean_log_lik = beyond.samples.e_step(x, weights, means, covs)
    # log w_k + log N(x_i | mu_k, S_k), by torch.distributions: (40, 3)
    log_joint = torch.stack([w.log() + MultivariateNormal(m, covariance_matrix=S).log_prob(x)
                             for w, m, S in zip(weights, means, covs)], 1)
    expected_r = log_joint.softmax(1)
    assert torch.allclose(r, expected_r, rtol=1e-9, atol=1e-12)
    assert mean_log_lik == pytest.approx(torch.logsumexp(log_joint, 1).mean().item(), rel=1e-10)
    # the weights matter here: equal weights give other responsibilities
    assert not torch.allclose(beyond.samples.e_step(x, torch.full((3,), 1 / 3, dtype=torch.float64),
                                           means, covs)[0], r, atol=1e-3)


def test_m_step_matches_the_formulas_written_out_point_by_point():
    x, *_ = small_mixture()
    g = torch.Generator().manual_seed(1)
    r = torch.rand(len(x), 3, generator=g, dtype=torch.float64) ** 3
    r /= r.sum(1, keepdim=True)                                       # rows sum to 1
    ridge = 1e-3
    weights, means, covs = beyond.samples.m_step(x, r, ridge)
    for k in range(3):
        Nk = sum(r[i, k] for i in range(len(x)))
        mu = sum(r[i, k] * x[i] for i in range(len(x))) / Nk
        S = sum(r[i, k] * torch.outer(x[i] - mu, x[i] - mu) for i in range(len(x))) / Nk
        assert weights[k].item() == pytest.approx((Nk / len(x)).item(), rel=1e-9)
        assert torch.allclose(means[k], mu, rtol=1e-9)
        assert torch.allclose(covs[k], S + ridge * torch.eye(2, dtype=torch.float64), rtol=1e-9)


def test_m_step_on_three_points_worked_by_hand():
    # x = 0, 4, 8; the middle point is 3/4 in component 0, 1/4 in component 1
    x = torch.tensor([[0.0], [4.0], [8.0]], dtype=torch.float64)
    r = torch.tensor([[1.0, 0.0], [0.75, 0.25], [0.0, 1.0]], dtype=torch.float64)
    weights, means, covs = beyond.samples.m_step(x, r, ridge=0.0)
    # N_0 = 1.75, N_1 = 1.25; mu_0 = 3 / 1.75 = 12/7, mu_1 = (1 + 8) / 1.25 = 7.2
    assert weights.tolist() == pytest.approx([1.75 / 3, 1.25 / 3])
    assert means.flatten().tolist() == pytest.approx([12 / 7, 7.2])
    var_0 = ((12 / 7) ** 2 + 0.75 * (4 - 12 / 7) ** 2) / 1.75
    var_1 = (0.25 * (4 - 7.2) ** 2 + (8 - 7.2) ** 2) / 1.25
    assert covs.flatten().tolist() == pytest.approx([var_0, var_1])


# --- beyond/samples.py: what each fit sees -----------------------------------

SAMPLES_SPIED = [(judge, "get_judge"), (judge, "train_judge"), (beyond.samples, "fit_mixture"),
                 (beyond.samples, "sample_quality"), (explore, "sample_uniform_box"),
                 (explore, "sample_gaussian")]


@pytest.fixture(scope="module")
def samples_run(tiny_ae, data_dir, tmp_path_factory):
    """What beyond.samples.main (AE only) called the spied functions with, and the splits."""
    return spied_run(beyond.samples.main, ["--quick", "--subset", str(SUBSET), "--seed", "3",
                                           *CPU], SAMPLES_SPIED, tiny_ae, data_dir,
                     tmp_path_factory.mktemp("samples"))


def test_the_judge_trains_on_the_training_split_and_its_floor_holds_no_image_it_trained_on(
        samples_run):
    """The judge trains on the training split (validated on the validation split); its
    accuracy and the reference features are of the test images; the floor is of held-out
    validation images, none of them a training image."""
    r = samples_run
    (args, _), = r["calls"]["get_judge"]
    assert same(list(args[:4]), [r["x_train"], r["y_train"], r["x_val"], r["y_val"]])
    (args, kwargs), = r["calls"]["train_judge"]               # a fresh folder: trained anew
    assert same(list(args[:2]), [r["x_train"], r["y_train"]])
    assert same([kwargs["x_val"], kwargs["y_val"]], [r["x_val"], r["y_val"]])
    assert len(args[0]) == SUBSET and len(r["x_test"]) == SUBSET // 4
    (args, _), = r["calls"]["sample_quality"]
    _, x_held_out, x_train, x_test, y_test, samples, _ = args
    assert same([x_held_out, x_train, x_test, y_test],
                [r["x_val"], r["x_train"], r["x_test"], r["y_test"]])
    floor = x_held_out[:len(x_test)].flatten(1)
    assert torch.cdist(floor, r["x_train"].flatten(1)).min() > 0     # no training image
    assert set(samples) == {"ae_box", "ae_gaussian", "ae_mixture"}
    assert all(len(images) == len(r["x_test"]) for images in samples.values())


def test_every_sampler_is_fitted_to_the_ae_codes_of_the_training_images(samples_run):
    """The mixture (fit_mixture), the Gaussian (sample_gaussian) and the min-max box all
    see the AE's codes of the training images, never those of the test images they are
    judged against: for the judge (as many as test images) and for the figure (10 each)."""
    r = samples_run
    train_codes = codes_of(r["out"], r["x_train"])
    (args, _), = r["calls"]["fit_mixture"]
    assert torch.allclose(args[0], train_codes, atol=1e-6) and args[1] == 10
    for name in ("sample_gaussian", "sample_uniform_box"):
        seen = r["calls"][name]
        assert [args[1] for args, _ in seen] == [len(r["x_test"]), 10]   # the judge, the figure
        for (z, *_), _ in seen:
            assert torch.allclose(z, train_codes, atol=1e-6), name


# --- beyond/samples.py: the settings and --seed ------------------------------

def call_recorder(monkeypatch, runs):
    """record(module, name, what): spy on module.name, each call appending what(its result,
    *its arguments) to runs[-1][name]."""
    def record(module, name, what):
        original = getattr(module, name)

        def spy(*args, **kwargs):
            result = original(*args, **kwargs)
            runs[-1].setdefault(name, []).append(what(result, *args))
            return result
        monkeypatch.setattr(module, name, spy)
    return record


def test_the_seed_draws_the_samples_and_never_the_judges_data_or_the_held_out_images(
        tiny_ae, data_dir, tmp_path, monkeypatch):
    """beyond/samples.py: the same --seed gives the same samples, mixture fit (k-means++),
    structureless images and judge; another seed other ones, the judge trained on the same
    training images, against the same test images and the same held-out images (the
    floor), with every sampler fitted to the same training codes."""
    runs = []
    record = call_recorder(monkeypatch, runs)
    record(judge, "get_judge", lambda j, x_train, y_train, x_val, y_val, *args:
           ([x_train, y_train, x_val, y_val], list(j.state_dict().values())))
    record(beyond.samples, "fit_mixture", lambda mixture, z, *args: ([z], list(mixture)))
    record(judge, "structureless_images", lambda images, *args: ([], images))
    record(beyond.samples, "sample_quality",
           lambda result, j, held_out, x_train, x_test, y_test, samples, g: (
               [held_out, x_train, x_test, y_test], samples))
    monkeypatch.setattr(beyond.samples, "plot_samples", lambda *args: None)
    for i, seed in enumerate((3, 3, 4)):
        out = tmp_path / str(i)
        out.mkdir()
        shutil.copy(tiny_ae / "ae.pt", out / "ae.pt")
        write_vae_checkpoint(out / "vae.pt")
        runs.append({})
        beyond.samples.main(["--quick", "--subset", "200", "--seed", str(seed), *CPU,
                             "--data-dir", str(data_dir), "--out-dir", str(out)])
    a, b, c = runs = [{name: calls[0] for name, calls in r.items()} for r in runs]  # one each
    for run_ in (b, c):                        # what no seed changes
        assert same(a["get_judge"][0], run_["get_judge"][0])            # the judge's data
        assert same(a["fit_mixture"][0], run_["fit_mixture"][0])        # the training codes
        assert same(a["sample_quality"][0], run_["sample_quality"][0])  # held-out, test images
    for name in ("get_judge", "fit_mixture", "structureless_images"):   # what the seed draws
        assert same(a[name][1], b[name][1]) and not same(a[name][1], c[name][1]), name
    samples = [r["sample_quality"][1] for r in runs]
    assert set(samples[0]) == {"ae_box", "ae_gaussian", "ae_mixture", "vae_prior"}
    for name in samples[0]:
        assert torch.equal(samples[0][name], samples[1][name]), name
        assert not torch.equal(samples[0][name], samples[2][name]), name


# --- beyond/samples.py: what the results say ---------------------------------

VERDICTS = [  # (the judge's test accuracy, the mixture's (fd, confident share), the verdict)
    (0.49, (5.0, 0.6), "Not judged: the judge's test accuracy is 0.490", "or 0 for all)."),
    (0.5, (5.0, 0.6), "The claim holds against the notebook's sampler", "beats the VAE."),
    (0.9, (50.0, 0.6), "The claim holds against the notebook's sampler", "does not beat the VAE."),
    (0.9, (5.0, 0.2), "The claim holds against the notebook's sampler", "does not beat the VAE.")]


@pytest.mark.parametrize("accuracy, mixture, starts, ends", VERDICTS)
def test_the_verdict_says_whether_the_claim_holds_and_whether_the_mixture_beats_the_vae(
        accuracy, mixture, starts, ends, capsys):
    """The VAE (fd 30, share 0.4) beats the AE's box (100, 0.2); a mixture beats the VAE only
    on both numbers. Below MIN_JUDGE_ACCURACY (0.5) the verdict and the table say the scores
    mean nothing."""
    row = {"confidence": 0.5, "class_entropy_bits": 2.0}
    rows = {key: {**row, "fd": 10.0, "confident_share": 0.3} for key in beyond.samples.ROWS}
    rows["ae_box"].update(fd=100.0, confident_share=0.2)
    rows["vae_prior"].update(fd=30.0, confident_share=0.4)
    rows["ae_mixture"].update(fd=mixture[0], confident_share=mixture[1])
    verdict = beyond.samples.third_claim(rows, accuracy)
    assert verdict.startswith(starts) and verdict.endswith(ends), verdict
    beyond.samples.print_table({"judge_test_accuracy": accuracy, "images_per_row": 9,
                                "rows": rows, "verdict": verdict})
    assert ("these scores mean nothing" in capsys.readouterr().out) == (accuracy < 0.5)


# --- beyond/samples.py: end to end, on the real data -------------------------

def test_the_third_claim_quick_end_to_end_on_real_data(quick_ae, data_dir, tmp_path):
    """python -m beyond.samples: every AE sampler and the three reference rows judged, a
    figure, and a cached judge; no VAE, so no verdict on it; a rerun beside a vae.pt reads
    the judge and gives the VAE's row and the verdict."""
    shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")
    proc = run("beyond.samples", "--quick", "--data-dir", data_dir, "--out-dir", tmp_path)
    assert (tmp_path / "fig_samples.png").stat().st_size > 10_000
    results = json.loads((tmp_path / "samples.json").read_text())
    rows = results["rows"]
    assert len(rows) == 6 and all(set(r) == {"confidence", "confident_share",
                                              "class_entropy_bits", "fd"} for r in rows.values())
    assert list(rows) == [k for k in beyond.samples.ROWS if k != "vae_prior"]  # keys, in order
    assert rows["real"]["fd"] == pytest.approx(0, abs=1e-6)
    assert rows["held_out"]["fd"] < rows["noise"]["fd"]      # the floor is near the ceiling
    assert results["fitted_to"] == "training codes" and results["training_codes"] == 2000
    assert "No VAE" in results["verdict"]
    assert "judge: training" in proc.stdout and (tmp_path / "judge.pt").exists()
    torch.manual_seed(0)
    plumbing.checkpoints.save_checkpoint(tmp_path / "vae.pt", {"d": 4}, vae=vae.VAE(4).state_dict())
    again = run("beyond.samples", "--quick", "--data-dir", data_dir, "--out-dir", tmp_path)
    assert "judge: read from" in again.stdout                # a rerun skips its training
    results = json.loads((tmp_path / "samples.json").read_text())
    assert "vae_prior" in results["rows"] and results["verdict"].startswith("The claim")
    for row in ("real", "held_out"):                          # the same judge, read back
        assert results["rows"][row] == rows[row]


# =============================================================================
# beyond/judge.py: the judge CNN, its scores, the Frechet distance, its data
# =============================================================================

# --- beyond/judge.py: the maths ----------------------------------------------

def test_fd_one_dimensional_closed_form():
    # 1-D: FD = (m1 - m2)^2 + (s1 - s2)^2 with s the standard deviations
    fd = judge.frechet_distance(torch.tensor([1.0]), torch.tensor([[4.0]]),
                          torch.tensor([-2.0]), torch.tensor([[9.0]]))
    assert fd == pytest.approx(9 + 1, abs=1e-9)


def test_fd_full_covariances_match_numpy_eig():
    # Tr (S1 S2)^(1/2) = sum_i sqrt(lambda_i(S1 S2)): the eigenvalues of the (non-symmetric)
    # product S1 S2 are real and >= 0, so numpy's general eig gives an independent answer.
    g = torch.Generator().manual_seed(1)
    d = 12
    mu1, mu2 = (torch.randn(d, generator=g, dtype=torch.float64) for _ in range(2))
    S1, S2 = random_spd(d, g), random_spd(d, g)
    lam = np.linalg.eigvals(S1.numpy() @ S2.numpy())
    expected = (np.sum((mu1 - mu2).numpy() ** 2) + np.trace(S1.numpy()) + np.trace(S2.numpy())
                - 2 * np.sum(np.sqrt(lam.real.clip(min=0))))
    assert judge.frechet_distance(mu1, S1, mu2, S2) == pytest.approx(expected, rel=1e-8)
    # symmetric in its two Gaussians, and 0 between a Gaussian and itself
    assert judge.frechet_distance(mu2, S2, mu1, S1) == pytest.approx(expected, rel=1e-8)
    assert judge.frechet_distance(mu1, S1, mu1, S1) == pytest.approx(0, abs=1e-9)


def test_fd_from_samples_close_to_population():
    g = torch.Generator().manual_seed(2)
    d, n = 5, 200_000
    mu1 = torch.full((d,), 3.0, dtype=torch.float64)        # far from 0: centring matters
    mu2 = mu1 + torch.randn(d, generator=g, dtype=torch.float64)
    S1, S2 = random_spd(d, g), random_spd(d, g)
    L1, L2 = torch.linalg.cholesky(S1), torch.linalg.cholesky(S2)
    x1 = mu1 + torch.randn(n, d, generator=g, dtype=torch.float64) @ L1.T
    x2 = mu2 + torch.randn(n, d, generator=g, dtype=torch.float64) @ L2.T
    mu, S = judge.feature_stats(x1)
    assert torch.allclose(mu, mu1, atol=0.02) and torch.allclose(S, S1, atol=0.03)
    expected = judge.frechet_distance(mu1, S1, mu2, S2)
    fd = lambda a, b: judge.frechet_distance(*judge.feature_stats(a), *judge.feature_stats(b))
    assert fd(x1, x2) == pytest.approx(expected, rel=0.05, abs=0.02)
    assert fd(x1[: n // 2], x1[n // 2:]) < 0.01          # two samples of one distribution


def test_judge_scores_confidence_and_entropy():
    class PixelJudge(nn.Module):
        """A stand-in judge: the class is the image's first pixel times 10, with logits
        10 for that class and 0 for the others (top probability e^10 / (e^10 + 9))."""

        def features(self, x):
            return x.flatten(1)[:, :4]                                     # (B, 4)

        def head(self, f):
            return 10.0 * nn.functional.one_hot((f[:, 0] * 10).long().clamp(0, 9), 10).float()

    pixel_judge, top = PixelJudge(), math.exp(10) / (math.exp(10) + 9)
    # all ten classes equally often: log2 10 bits
    x = (torch.arange(1000) % 10 / 10 + 0.05).view(-1, 1, 1, 1).expand(-1, 1, 28, 28)
    s = judge.judge_scores(pixel_judge, x, pixel_judge.features(x))
    assert s["class_entropy_bits"] == pytest.approx(math.log2(10), abs=1e-9)
    assert s["confidence"] == pytest.approx(top, abs=1e-6)
    assert s["confident_share"] == 1.0
    assert s["fd"] == pytest.approx(0, abs=1e-6)
    # one class only: 0 bits; two classes 1:3: H = -(1/4 log2 1/4 + 3/4 log2 3/4)
    assert judge.class_entropy_bits(torch.zeros(50, dtype=torch.long)) == 0
    two = judge.class_entropy_bits(torch.tensor([2] * 25 + [7] * 75))
    assert two == pytest.approx(0.811278, abs=1e-6)


def test_structureless_images_match_pixel_statistics():
    g = torch.Generator().manual_seed(5)
    x = torch.rand(2000, 1, 28, 28) * torch.linspace(0, 0.5, 28)           # pixels in [0, 0.5]
    noise = judge.structureless_images(x, 20_000, g)
    assert noise.shape == (20_000, 1, 28, 28) and noise.min() >= 0 and noise.max() <= 1
    # inside [0, 1] the clipping hardly acts away from the edges: compare the middle columns
    mid = slice(12, 20)
    assert torch.allclose(noise.mean(0)[..., mid], x.mean(0)[..., mid], atol=0.01)
    assert torch.allclose(noise.std(0)[..., mid], x.std(0)[..., mid], atol=0.01)
    # no structure: neighbouring pixels uncorrelated
    a, b = noise[:, 0, 14, 14], noise[:, 0, 14, 15]
    assert abs(torch.corrcoef(torch.stack([a, b]))[0, 1].item()) < 0.03


# --- beyond/judge.py: training, train and eval modes, what it sees -----------

def test_the_judges_steps_are_adam_on_the_cross_entropy_with_an_lr_falling_to_zero():
    torch.manual_seed(0)
    x, y = torch.rand(N, 1, 28, 28), torch.randint(0, 10, (N,))
    lrs = []
    hook = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: lrs.append(optimizer.param_groups[0]["lr"]))
    try:                                     # 2 epochs of 2 batches: 4 steps
        got = judge.train_judge(x, y, epochs=2, batch_size=BATCH, seed=3, lr=0.01, width=4)
    finally:
        hook.remove()

    torch.manual_seed(3)                     # initial weights, then dropout masks
    reference = judge.Judge(4)
    before = flat(reference)
    optimizer = torch.optim.Adam(reference.parameters(), lr=0.01)
    g = generator(3)                         # one batch order, drawn anew each epoch
    orders = [torch.randperm(N, generator=g).split(BATCH) for _ in range(2)]
    for step, idx in enumerate(idx for order in orders for idx in order):
        # lr_k = lr (1 - k / T), T = 4 steps in all: from lr, a quarter less each step
        optimizer.param_groups[0]["lr"] = 0.01 * (1 - step / 4)
        optimizer.zero_grad()
        loss = cross_entropy(reference(x[idx]), y[idx])
        loss.backward()
        optimizer.step()
    assert lrs == pytest.approx([0.01 * (1 - k / 4) for k in range(4)], rel=1e-9)
    assert_same_update(before, got, reference)


def test_the_judges_outputs_scores_and_accuracy_are_computed_with_dropout_off():
    torch.manual_seed(0)
    model = judge.Judge(width=4, dropout=0.5)
    x = torch.rand(40, 1, 28, 28)
    with torch.no_grad():
        logits = copy.deepcopy(model).eval()(x)                            # (40, 10)
        probs = logits.softmax(1)
        features = model.body(x)                                           # (40, 128)
        with_dropout = model.train()(x).softmax(1)
    assert not torch.allclose(with_dropout, probs, atol=1e-4)
    assert not torch.equal(with_dropout.argmax(1), probs.argmax(1))
    # labels equal to the eval-mode predictions: every one right, only with dropout off
    for _ in range(2):
        assert classify.evaluate(model.train(), x, probs.argmax(1))["accuracy"] == 1.0
    got = judge.judge_outputs(model.train(), x, batch_size=16)
    again = judge.judge_outputs(model.train(), x, batch_size=16)
    assert torch.equal(got[0], again[0]) and torch.equal(got[1], again[1])
    torch.testing.assert_close(got[0], logits)
    torch.testing.assert_close(got[1], features)
    scores = judge.judge_scores(model.train(), x, features)
    assert scores == judge.judge_scores(model.train(), x, features)
    assert scores["confidence"] == pytest.approx(probs.max(1).values.mean().item(), rel=1e-5)


def test_the_judge_trains_with_dropout_on_and_its_validation_images_never_reach_its_weights(
        monkeypatch):
    """Each epoch trains with dropout on and validates with it off; x_val, y_val only print
    an accuracy; the judge is returned in eval mode."""
    flags = []

    class RecordingJudge(judge.Judge):
        def __init__(self, *args, **kwargs):                    # each pass of the head's Dropout
            super().__init__(*args, **kwargs)
            self.head[0].register_forward_pre_hook(lambda m, args: flags.append(m.training))
    monkeypatch.setattr(judge, "Judge", RecordingJudge)
    torch.manual_seed(0)
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    trained = judge.train_judge(x[:8], y[:8], epochs=2, batch_size=4, seed=0, width=4,
                                x_val=x[8:13], y_val=y[8:13])
    # each epoch: two training batches with dropout on, then the validation with it off
    assert flags == [True, True, False] * 2
    assert not any(m.training for m in trained.modules())
    # without validation: the same weights, in eval mode too (no validation switched it there)
    unvalidated = judge.train_judge(x[:8], y[:8], epochs=2, batch_size=4, seed=0, width=4)
    assert not any(m.training for m in unvalidated.modules())
    weights = lambda model: list(model.state_dict().values())
    assert same(weights(unvalidated), weights(trained))
    # and the weights do depend on the training images (the check above could fail)
    other = judge.train_judge(x[8:], y[8:], epochs=2, batch_size=4, seed=0, width=4)
    assert not same(weights(other), weights(trained))


# --- beyond/judge.py: the cached judge ---------------------------------------

def write_judge_cache(cache, x, y, path):
    """A judge.pt that get_judge(x[:64], y[:64], seed 0, subset 64) must not use: one trained
    with other data, seed or subset, or one that is not a judge of this code."""
    trained = {"another subset": (x, y, 0, 96), "another seed": (x[:64], y[:64], 1, 64),
               "other images": (x[32:], y[32:], 0, 64),       # the same size: another --data-dir
               "other labels": (x[:64], (y[:64] + 1) % 10, 0, 64)}
    if cache in trained:
        x, y, seed, subset = trained[cache]
        judge.get_judge(x, y, None, None, seed, subset, path)
    elif cache == "not a checkpoint":
        path.write_bytes(b"not a checkpoint")
    elif cache == "an encoder":
        plumbing.checkpoints.save_checkpoint(path, {"d": 2},
                                             encoder=common.Encoder(2, 0).state_dict())
    else:                                    # another width, a weight missing or one more
        state = {"judge": judge.Judge(4 if cache == "another width" else 16).state_dict()}
        damage(state, "judge" if cache == "a weight missing" else None,
               "judge" if cache == "a weight more" else None)
        plumbing.checkpoints.save_checkpoint(path, {**judge.JUDGE, "seed": 0, "subset": 64},
                                             **state)


JUDGE_CACHES = ["another subset", "another seed", "other images", "other labels",
                "not a checkpoint", "an encoder", "another width", "a weight missing",
                "a weight more"]


@pytest.mark.parametrize("cache", JUDGE_CACHES)
def test_a_judge_cache_of_other_data_or_damaged_is_said_and_replaced(cache, capsys, tmp_path):
    """judge.pt is only a cache, keyed by the judge's data, seed and subset: one of other
    data, or damaged, is said in one line and replaced by a judge trained anew."""
    torch.manual_seed(0)
    x, y = torch.rand(96, 1, 28, 28), torch.arange(96) % 10
    path = tmp_path / "judge.pt"
    write_judge_cache(cache, x, y, path)
    capsys.readouterr()
    new = judge.get_judge(x[:64], y[:64], None, None, 0, 64, path)
    said = capsys.readouterr().out
    assert ("was trained with" if cache in JUDGE_CACHES[:4] else
            "is not a judge this code can read") in said and "training a new one" in said
    saved = plumbing.checkpoints.load_checkpoint(path, "", key="judge")["judge"]
    assert same(list(saved.values()), list(new.state_dict().values()))   # the new one, whole
    judge.get_judge(x[:64], y[:64], None, None, 0, 64, path)
    assert "judge: read from" in capsys.readouterr().out                  # and read back


# --- beyond/judge.py: end to end, on the real data ---------------------------

def test_real_data_judge_ranks_real_images_above_structureless_floor(data_dir):
    (x_train, y_train), _ = common.load_train_val(data_dir, torch.device("cpu"), 4000)
    x_test, y_test = common.load_test(data_dir, torch.device("cpu"))
    cnn = judge.train_judge(x_train, y_train, epochs=1, batch_size=64, seed=0, width=8)
    assert classify.evaluate(cnn, x_test[:1000], y_test[:1000])["accuracy"] > 0.7
    reference = cnn.features(x_test[:1000]).detach()                   # (1000, 128)
    real = judge.judge_scores(cnn, x_test[1000:2000], reference)
    floor = judge.judge_scores(cnn, judge.structureless_images(
        x_train, 1000, torch.Generator().manual_seed(0)), reference)
    assert real["confidence"] > floor["confidence"] + 0.1
    assert real["fd"] < floor["fd"] / 3
    assert real["class_entropy_bits"] > 3.0                # the test set is balanced


# =============================================================================
# beyond/labels.py: what pretraining buys with few labels: balanced subsets, three ways of
# training
# =============================================================================

# --- beyond/labels.py: balanced label subsets --------------------------------

def test_balanced_label_subsets_are_balanced_and_fixed_by_the_seed():
    y = torch.arange(10).repeat_interleave(30)[torch.randperm(300)]  # 30 per class, shuffled
    a = labels.balanced_subset(y, 50, seed=1)
    assert len(a) == 50 and len(a.unique()) == 50
    assert torch.bincount(y[a], minlength=10).tolist() == [5] * 10
    assert torch.equal(a, labels.balanced_subset(y, 50, seed=1))
    assert not torch.equal(a, labels.balanced_subset(y, 50, seed=2))
    with pytest.raises(SystemExit, match="needs 40 images"):
        labels.balanced_subset(y, 400, seed=1)


# --- beyond/labels.py: the three ways: their start, divergence, budget -------

def pretrained(d, dropout):
    """An encoder, its checkpoint as ae.py writes one, and Table 5's recipe with a small MLP."""
    encoder = common.Encoder(d, dropout)
    checkpoint = {"settings": {"d": d, "dropout": dropout, "optimizer": "SGD", "lr": 0.01,
                               "weight_decay": 0.0},
                  "encoder": encoder.state_dict()}
    mlp = {"no1": 8, "no2": 8, "mlp_optimizer": "SGD", "mlp_lr": 0.01, "mlp_dropout": 0.0,
           "mlp_weight_decay": 0.0}
    return encoder, checkpoint, {**classify.RECIPES["table5"], "mlp": mlp}


@pytest.mark.parametrize("way", list(labels.WAYS))
def test_each_way_starts_from_the_pretrained_encoder_or_from_new_weights(way, monkeypatch):
    """Fine-tuned and frozen start from the pretrained encoder, random from new weights; the
    frozen one trains the MLP alone, on the encoder's codes computed with dropout off."""
    torch.manual_seed(123)  # not the run's seed 0: new weights cannot equal these by chance
    encoder, checkpoint, recipe = pretrained(4, 0.5)
    started, fit = [], labels.fit

    def spy(trained, optimizers, x, y, *args, **kwargs):
        started.append((copy.deepcopy(trained.state_dict()), trained, x))
        return fit(trained, optimizers, x, y, *args, **kwargs)
    monkeypatch.setattr(labels, "fit", spy)
    x, y = torch.rand(20, 1, 28, 28), torch.randint(0, 10, (20,))
    model, _ = labels.train_one_way(checkpoint, recipe, way, x, y, steps=2, batch_size=8, seed=0)
    (at_start, trained, h), = started
    if way == "frozen":   # trained is the MLP alone; the encoder never moves
        with torch.no_grad():
            by_hand = copy.deepcopy(encoder).eval()(x)                     # (20, 4)
            assert not torch.allclose(encoder.train()(x), by_hand, atol=1e-3)
        assert trained is model.mlp and not model.encoder.training
        torch.testing.assert_close(h, by_hand)                 # the eval-mode codes
        at_start = model.encoder.state_dict()
    else:
        at_start = {k.removeprefix("encoder."): v for k, v in at_start.items()
                    if k.startswith("encoder.")}
    same = all(torch.equal(at_start[k], v) for k, v in encoder.state_dict().items())
    assert same == (way != "random")


@pytest.mark.parametrize("way", list(labels.WAYS))
def test_a_label_run_whose_training_loss_diverges_stops_in_one_line(way, monkeypatch):
    """beyond/labels.py trains without validation: the training loss is all it watches."""
    monkeypatch.setattr(classify, "train_epoch", lambda *args, **kwargs: {"loss": math.nan})
    torch.manual_seed(0)
    _, checkpoint, _ = pretrained(3, 0.0)
    x, y = torch.rand(20, 1, 28, 28), torch.arange(20) % 10
    with pytest.raises(SystemExit) as e:
        labels.train_one_way(checkpoint, classify.RECIPES["table5"], way, x, y, steps=2,
                             batch_size=8, seed=0)
    assert str(e.value).startswith("error:") and f"the {way} run diverged" in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("n, batch_size, steps, taken", [
    # the docstring's sizes (1,000 labels: 4 batches an epoch, the last of 232; 10,000: 40),
    # with a budget of fewer steps: 23 steps take 6 epochs, not 5; 50 take 2 epochs, not 1
    (1000, 256, 23, 24), (10_000, 256, 50, 80),
    (50, 16, 9, 12),           # 4 batches an epoch (the last of 2): 3 epochs, not 2
    (10, 16, 3, 3)])           # a set smaller than a batch is one batch: 3 epochs of 1
def test_a_label_run_takes_its_budget_rounded_up_to_whole_epochs(n, batch_size, steps, taken):
    torch.manual_seed(0)
    _, checkpoint, recipe = pretrained(3, 0.0)
    stepped = {}                                   # optimiser -> steps it took
    hook = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: stepped.update({optimizer: stepped.get(optimizer, 0) + 1}))
    try:                                           # frozen: only the small MLP trains
        _, said = labels.train_one_way(checkpoint, recipe, "frozen", torch.rand(n, 1, 28, 28),
                                       torch.arange(n) % 10, steps, batch_size, seed=0)
    finally:
        hook.remove()
    assert said == taken and max(stepped.values()) == taken


def test_the_label_budget_is_the_steps_of_the_epochs_on_every_training_image(
        tiny_ae, data_dir, tmp_path, capsys):
    # --subset 200: 200 + 50 training and validation images, 4 batches of 64 an epoch
    # (the last of 58); 2 epochs' budget: 8 steps, and 10 labels take 8 epochs of 1 batch
    labels.main(["--quick", "--subset", str(SUBSET), "--labels", "10", "--epochs", "2",
                 "--batch-size", "64", "--seeds", "1", "--checkpoint", str(tiny_ae / "ae.pt"),
                 *CPU, "--data-dir", str(data_dir), "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "every run takes 8 optimisation steps" in out
    assert out.count("(8 steps)") == len(labels.WAYS)


# --- beyond/labels.py: what each fit sees, and --seed -------------------------

def test_the_seed_draws_the_label_subsets_and_never_the_test_images_or_the_split(
        tiny_ae, data_dir, tmp_path, monkeypatch):
    """beyond/labels.py: each way trains on a balanced subset of the 60,000 training images
    and is tested once, on the test images; the same --seed draws the same subsets (and
    trains them from the same weights); another seed draws other subsets, from the same
    60,000 training images, and tests on the same test images."""
    runs = []
    record = call_recorder(monkeypatch, runs)
    record(labels, "balanced_subset", lambda idx, y, n, seed: (y, idx))  # the labels drawn from
    record(labels, "train_one_way", lambda result, ae_ckpt, recipe, way, x, y, *args:
           (x, y, list(result[0].state_dict().values())))
    record(labels, "evaluate", lambda result, model, x, y: (x, y))       # the test images
    monkeypatch.setattr(labels, "plot_label_efficiency", lambda *args: None)
    for i, seed in enumerate((3, 3, 4)):
        runs.append({})
        labels.main(["--quick", "--subset", "200", "--labels", "10,20", "--epochs", "1",
                     "--seed", str(seed), "--checkpoint", str(tiny_ae / "ae.pt"), *CPU,
                     "--data-dir", str(data_dir), "--out-dir", str(tmp_path / str(i))])
    a, b, c = runs
    assert len(a["balanced_subset"]) == len(a["train_one_way"]) == len(a["evaluate"]) == 6
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits(data_dir)
    x_all, y_all = torch.cat([x_train, x_val]), torch.cat([y_train, y_val])  # the 60,000
    assert [len(idx) for _, idx in a["balanced_subset"]] == [10] * 3 + [20] * 3   # per way
    for (y, idx), (x, y_given, _) in zip(a["balanced_subset"], a["train_one_way"]):
        assert torch.equal(y, y_all) and torch.equal(x, x_all[idx])
        assert torch.equal(y_given, y_all[idx])
    for x, y in a["evaluate"]:                                  # tested once, on the test set
        assert torch.equal(x, x_test) and torch.equal(y, y_test)
    for run_ in (b, c):                        # what no seed changes
        for (y, _), (y_other, _) in zip(a["balanced_subset"], run_["balanced_subset"]):
            assert torch.equal(y, y_other)                            # the same 60,000 labels
        for (x, y), (x_other, y_other) in zip(a["evaluate"], run_["evaluate"]):
            assert torch.equal(x, x_other) and torch.equal(y, y_other)
    for (_, idx_a), (_, idx_b), (_, idx_c) in zip(*(r["balanced_subset"] for r in runs)):
        assert torch.equal(idx_a, idx_b) and not torch.equal(idx_a, idx_c)
    for (xa, ya, wa), (xb, yb, wb), (xc, _, wc) in zip(*(r["train_one_way"] for r in runs)):
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and same(wa, wb)
        assert not torch.equal(xa, xc) and not same(wa, wc)


# --- beyond/labels.py: end to end, on the real data --------------------------

def test_labels_quick_end_to_end(data_dir, quick_ae, tmp_path):
    shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")
    run("beyond.labels", "--quick", "--data-dir", data_dir, "--out-dir", tmp_path)
    assert (tmp_path / "fig_label_efficiency.png").stat().st_size > 10_000
    results = json.loads((tmp_path / "labels.json").read_text())
    assert set(results["accuracy"]) == {"fine-tuned", "frozen", "random"}
    assert set(results["accuracy"]["random"]) == {"100", "500"}
    assert "(a) pretrained encoder, fine-tuned" in (tmp_path / "labels.md").read_text()


# =============================================================================
# scripts/reproduce.py: the whole report in order, and its runs over seeds
# =============================================================================

# --- scripts/reproduce.py: the steps, their order and their flags ------------

def test_reproduce_gives_each_tuning_worker_its_own_seed(steps_spy, tmp_path):
    steps_spy.module.main(["--quick", *CPU, "--seed", "7", "--workers", "3", "--out-dir",
                     str(tmp_path / "out")])
    for study in ("ae", "classifier", "vae"):
        workers = commands_of(steps_spy, "tune.py", study)
        assert [flag_value(c, "--seed") for c in workers] == ["7", "8", "9"]
        assert len({tuple(steps_spy.module.without(c, "--seed")) for c in workers}) == 1


# What each step of the report reads from others, as a user would say it: it waits for these
WAITS_FOR = {"tune_ae": [], "tune_vae": [], "compare": [], "refit_ae": ["tune_ae"],
             "tune_classifier": ["refit_ae"], "classify": ["tune_classifier"],
             "vae": ["tune_vae"], "explore": ["refit_ae", "vae"], "samples": ["refit_ae", "vae"]}


def step_of(command):
    """The report's step that a command runs, by its words."""
    return {"tune.py": f"tune_{command[1]}", "classify.py": "classify", "vae.py": "vae",
            "explore.py": "explore", "-m": command[1].split(".")[-1],
            "ae.py": "refit_ae" if "refit" in command else "compare"}[command[0]]


@pytest.mark.parametrize("slow", [("tune_vae", "vae"),
                                  ("tune_ae", "refit_ae", "tune_classifier", "classify")])
def test_reproduce_starts_each_step_once_the_steps_it_reads_from_have_ended(
        slow, steps_spy, tmp_path, capsys, monkeypatch):
    """The console's starts and ends, steps side by side (--jobs 9), with fake processes that
    end at the next look, the chain `slow` five looks later: the VAE's chain last, then the
    AE's. A step that no longer waits for one it reads from starts too early in one of them."""
    looks, ends = [0], {}

    def sleep(seconds):                                      # run_steps looks at its steps
        looks[0] += 1
        for p in steps_spy.started:
            ends.setdefault(p.pid, looks[0] + (5 if step_of(p.command) in slow else 0))
            if looks[0] >= ends[p.pid]:
                p.returncode = 0
    steps_spy.exit_status = lambda command: None             # each runs until its look
    monkeypatch.setattr(plumbing.steps, "time", SimpleNamespace(
        sleep=sleep, monotonic=time.monotonic, strftime=time.strftime))
    steps_spy.module.main(["--quick", *CPU, "--jobs", "9", "--out-dir", str(tmp_path / "out")])
    events = re.findall(r"^\S+  (start|done) +(\S+)", capsys.readouterr().out, re.MULTILINE)
    first = {event: events.index(event) for event in events}
    for step, waits in WAITS_FOR.items():
        assert [first[("done", w)] < first[("start", step)] for w in waits] == [True] * len(waits)
        if not waits:                                        # at once, side by side
            assert first[("start", step)] < first[("done", "tune_ae")], step
        assert first[("done", step)] < first[("start", "summary")]


def test_reproduce_studies_tune_with_seeds_of_their_own_and_train_at_the_reports(
        steps_spy, tmp_path, monkeypatch):
    """--studies 3 --workers 2 --seed 7: study K's tuning workers take --seed 7 + 2K + i and
    its other steps --seed 7, each in OUT/studies/studyK/ and waiting for what it reads in its
    own study; study 0 is the report itself, its files copied."""
    out, calls = tmp_path / "out", {}
    out.mkdir()
    made = scripts.reproduce.made_by(scripts.reproduce.STUDY_RUN)
    for name in made:                                                # the report's, faked
        (out / name).write_text(name)
    spy(monkeypatch, scripts.reproduce, "run_steps", calls)
    steps_spy.module.main(["--quick", *CPU, "--seed", "7", "--workers", "2", "--studies", "3",
                           "--out-dir", str(out)])
    for k, folder in enumerate([out, out / "studies" / "study1", out / "studies" / "study2"]):
        ran = [c for c in (p.command for p in steps_spy.started)
               if flag_value(c, "--out-dir") == str(folder) and not c[1].startswith("scripts.")]
        tuning = [c for c in ran if c[:2] == ["tune.py", "ae"]]
        assert [flag_value(c, "--seed") for c in tuning] == [str(7 + 2 * k), str(8 + 2 * k)]
        assert {flag_value(c, "--seed") for c in ran if c[0] != "tune.py"} == {"7"}
        assert all(flag_value(c, "--params").startswith(str(folder)) for c in ran if "--params" in c)
    assert [(out / "studies" / "study0" / name).read_text() for name in made] == list(made)
    tasks = [t for (tasks, *_), _ in calls["run_steps"] for t in tasks if "study" in t.name]
    assert len(tasks) == 2 * len(scripts.reproduce.STUDY_RUN)        # studies 1 and 2
    for task in tasks:                            # waits for what it reads, in its own study
        study, step = task.name.split("/")
        assert {f"{study}/{w}" for w in WAITS_FOR[step]} <= task.after <= {
            f"{study}/{s.name}" for s in scripts.reproduce.STUDY_RUN}, task.name


# --- scripts/reproduce.py: which earlier seed runs are kept ------------------

def test_reproduce_keeps_only_a_whole_seed_run_of_the_same_flags_and_values(tmp_path):
    """reproduce.py's whole(): a seed run is kept on a rerun only if every step finished (steps
    side by side end in any order), with the same flags and, for "tuned", the same values."""
    out, run_dir = tmp_path / "out", tmp_path / "out" / "seeds" / "tuned" / "seed1"
    run_dir.mkdir(parents=True)
    for name in ("tuned_ae.json", "tuned_classifier.json", "tuned_vae.json"):
        for folder, t in ((out, 1), (run_dir, 2)):          # the same values, other times
            (folder / name).write_text(json.dumps({"params": {"lr": 0.1}, "seconds": t}))
    (run_dir / "flags.txt").write_text("--quick\n")
    made = ["ae.pt", "ae.json", "classify.json", "vae.pt", "vae.json", "explore.json",
            "samples.json"]

    def whole(config="tuned", flags=("--quick",)):
        return scripts.reproduce.whole(run_dir, scripts.reproduce.SEED_RUN,
                                       SimpleNamespace(flags=list(flags), out=out), config)
    for name in made:
        (run_dir / name).write_text("{}")
    assert whole() and whole("tables")
    for name in made:                # any step unfinished (side by side, any may end last)
        (run_dir / name).unlink()
        assert not whole(), name
        (run_dir / name).write_text("{}")
    assert not whole(flags=("--quick", "--epochs", "3"))     # other flags
    (out / "tuned_vae.json").write_text(json.dumps({"params": {"lr": 0.2}}))
    assert not whole() and whole("tables")                    # other tuned values


# --- scripts/reproduce.py: end to end: --jobs 1 and 3, the seed runs ---------

@pytest.fixture(scope="module")
def report_jobs1(data_dir, tmp_path_factory):
    """The same report, one step at a time, without the seed runs: about 40 s. Into a folder
    of report_jobs3's name: torch names the archive inside a checkpoint after its file when
    the path is ASCII, so a checkpoint's size, in the results, depends on its folder's."""
    return run_report(data_dir, tmp_path_factory.mktemp("jobs1") / AWKWARD, "--jobs", "1")


def result_numbers(path):
    """Every number of a results file, less the settings and the times, by key (steps side
    by side may write the entries of one file, ae.json, in either order)."""
    found = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in sorted(o.items()):
                if k != "settings" and not any(t in k.lower() for t in ("second", "time", "wall")):
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
        elif isinstance(o, (int, float)) and not isinstance(o, bool):
            found.append(o)
    walk(json.loads(path.read_text()))
    return found


def test_reproduce_jobs_1_and_jobs_3_give_the_same_numbers(report_jobs1, report_jobs3):
    files = sorted(p.name for p in report_jobs1.glob("*.json"))
    assert {"tuned_ae.json", "ae.json", "classify.json", "vae.json", "explore.json",
            "samples.json"} <= set(files)
    for name in files:
        assert result_numbers(report_jobs1 / name) == result_numbers(report_jobs3 / name), name


def test_reproduce_runs_steps_side_by_side_once_their_inputs_exist(report_jobs3):
    rows = [line.split("\t") for line in (report_jobs3 / "times.tsv").read_text().splitlines()]
    assert rows[0] == ["step", "start", "end", "seconds"]
    times = {step: (float(start), float(end)) for step, start, end, _ in rows[1:]}
    assert set(times) == {s.name for s in scripts.reproduce.REPORT} | {
        "wall time", "wall time, seed runs and studies included"}
    for step in scripts.reproduce.REPORT:
        for before in scripts.reproduce.after(step, scripts.reproduce.REPORT):
            assert times[before][1] <= times[step.name][0], (before, step.name)
        assert (report_jobs3 / "logs" / f"{step.name}.log").exists()
    for a, b in (("tune_ae", "tune_vae"), ("tune_vae", "tune_ae")):  # two chains at once:
        assert times[a][0] < times[b][1]                       # each began before the other ended
    steps = sum(end - start for step, (start, end) in times.items() if "wall" not in step)
    assert times["wall time"][1] < steps
    md = (report_jobs3 / "summary.md").read_text()
    assert "Wall time: " in md and "The steps one after another: " in md


def test_reproduce_seeds_end_to_end(report_jobs3):
    """The whole report, then 2 seeds x 2 configurations, on 500 images, steps side by side
    (--jobs 3). --seed 3 checks that --seed and --out-dir are replaced, not passed twice."""
    out = report_jobs3
    data = json.loads((out / "seeds.json").read_text())
    assert data["configs"]["tables"]["seeds"] == [3, 4]
    assert data["configs"]["tuned"]["seeds"] == [3, 4]
    tables, tuned = data["configs"]["tables"]["metrics"], data["configs"]["tuned"]["metrics"]
    assert tables["ae_d"]["values"] == [185, 185]  # Table 4
    tuned_d = json.loads((out / "tuned_ae.json").read_text())["params"]["d"]
    assert tuned["ae_d"]["values"] == [tuned_d, tuned_d]
    assert not list((out / "seeds" / "tables").glob("*/tuned_*.json"))
    # the tuned run at --seed is the sequence's own, copied
    assert (json.loads((out / "seeds" / "tuned" / "seed3" / "vae.json").read_text())
            == json.loads((out / "vae.json").read_text()))
    settings = json.loads((out / "seeds" / "tables" / "seed4" / "vae.json").read_text())["settings"]
    assert settings["seed"] == 4 and settings["subset"] == 500 and settings["quick"]
    rows = [row for f in sorted(out.glob("seeds/*/seed*/times.tsv"))
            for row in f.read_text().splitlines()]
    assert len(rows) == 2 * 2 * 5 and sum(row.endswith("\treused") for row in rows) == 5
    assert (out / "samples.json").exists() and (out / "seeds" / "tables" / "seed4" / "samples.json").exists()
    text = (out / "seeds.md").read_text()
    assert "## Verdicts" in text and "## Time" in text
    assert (out / "summary.md").exists()


def test_reproduce_runs_into_any_valid_path_and_past_a_closed_console(report_jobs3):
    """report_jobs3 ran from and into folders named AWKWARD (a space, unicode, quotes), its
    console closed after the first line (`| head -n 1`): every step and seed run found its
    files, the run went on, and said so once."""
    out = report_jobs3
    assert out.name == AWKWARD
    command = (out / "logs" / "refit_ae.log").read_text().splitlines()[0]   # one to paste
    assert shlex.split(command)[5:7] == ["--params", str(out / "tuned_ae.json")]
    note = out.with_name(out.name + ".stderr").read_text()
    assert note == ("note: the console is closed; the run goes on, each step's output in its "
                    "log\n")


# =============================================================================
# scripts/summary.py: the report's numbers beside ours, in summary.md
# =============================================================================

# --- scripts/summary.py: what the results say --------------------------------

def table6_recipe(source, f1, accuracy, sd, seconds):
    return {"source": source, "mean_metrics": {"f1": f1}, "accuracy_mean": accuracy,
            "accuracy_std": sd, "seconds_mean": seconds, "support": [100] * 10, "runs": [{}, {}]}


@pytest.mark.parametrize("damage, says", [
    (lambda out: (out / "vae.json").write_text('{"test": '), "vae.json"),         # cut short
    (lambda out: (out / "vae.json").write_text('{"test": {"neg_elbo": 1}}'), "vae.json lacks"),
    (lambda out: (out / "times.tsv").write_text("step\tstart\tend\tseconds\nae.py\t0\t9\tten\n")
     + (out / "seeds.json").write_text("{}"), "times.tsv, line 2"),
    (lambda out: write_results(out, classify={
        "table6": {"table5": table6_recipe("Table 5", [0.8] * 10, "90 %", 0.01, 40.0)},
        "table6_run": {"settings": {"epochs": 10, "subset": 0}, "device": "cpu"}}),
     "classify.json: table6.table5.accuracy_mean is '90 %', not a number"),
])
def test_summary_says_what_is_wrong_in_one_line(damage, says, tmp_path):
    damage(tmp_path)
    proc = run("scripts.summary", "--out-dir", tmp_path, ok=False)
    assert one_line_error(proc) and says in proc.stderr, proc.stderr


def tuned_file(params, value, direction, best, trials, epochs, device):
    """A tuned_<study>.json as tune.py writes it; trials: (complete, pruned, failed)."""
    return {"params": params, "value": value, "direction": direction, "best_trial": best,
            "trials": dict(zip(("complete", "pruned", "failed"), trials)),
            "settings": {"epochs": epochs}, "device": device}


def way(*cells):
    """beyond/labels.py's accuracy of one way at 100 and 1000 labels: (mean, sd) each."""
    return {n: {"mean": mean, "std": std} for n, (mean, std) in zip(("100", "1000"), cells)}


SAMPLE_ROWS = {key: {"confidence": 0.5 + 0.011 * i, "confident_share": 0.2 + 0.021 * i,
                     "class_entropy_bits": 1.5 + 0.12 * i, "fd": 10.0 + 7.31 * i}
               for i, key in enumerate(beyond.samples.ROWS)}

# (results files, as write_results takes them; lines of summary.md, each number traced to
# its key by hand; lines it must not hold)
SUMMARY_TABLES = {
    "vae": (dict(vae={
        "params": {"d": 37, "lr": 0.00123, "weight_decay": 0.000456}, "source": "report",
        "history": {"val_recon": [300.0, 280.0, 270.0]},
        "test": {"neg_elbo": 250.25, "recon": 231.75, "kl": 18.5, "iw_samples": 17,
                 "iw_images": 1234, "iw_log_px": -246.5}}),
        ["With d = 37, lr = 0.00123, weight decay = 0.000456 (Table 7), 3 epochs: test "
         "negative ELBO **250.25 nats per image** (reconstruction 231.75 + KL 18.50); "
         "importance-weighted estimate with K = 17 on 1,234 images: "
         "-log p(x) ≤ **246.50 nats**."], []),                         # minus iw_log_px
    "ae": (dict(ae={
        "compare": {"params": {"d": 3, "lr": 0.0123},
                    "Adam": {"val_mse": [0.5, 0.04321], "diverged": None, "pca_val_mse": 0.05432},
                    "SGD": {"val_mse": [0.07654], "diverged": 2, "pca_val_mse": 0.06543}},
        "refit": {"source": "outputs/tuned_ae.json", "params": {"d": 17},
                  "val_mse": [0.1, 0.02, 0.01357], "pca_val_mse": 0.02468}}),
        # | run | d | epochs | validation MSE, AE | validation MSE, PCA with d components |
        ["| Adam, lr 0.0123 (Figure 1) | 3 | 2 | 0.04321 | 0.05432 |",
         "| SGD, lr 0.0123 (Figure 1) | 3 | 1 | 0.07654 (diverged at epoch 2) | 0.06543 |",
         "| refit (outputs/tuned_ae.json) | 17 | 3 | 0.01357 | 0.02468 |"],
        ["PCA with 64 components"]),                                   # d = 17: no bottleneck
    "tuned": (dict(
        tuned_ae=tuned_file({"d": 46, "optimizer": "SGD", "lr": 0.00195, "dropout": 0.3,
                             "weight_decay": 5.5e-06}, 0.0125, "minimize", 3, (4, 1, 0), 10, "cpu"),
        tuned_classifier=tuned_file({"no1": 13, "no2": 7, "mlp_optimizer": "SGD", "mlp_lr": 0.0234,
                                     "mlp_dropout": 0.0625, "mlp_weight_decay": 0.000789},
                                    0.8765, "maximize", 4, (5, 2, 1), 7, "cuda"),
        tuned_vae=tuned_file({"d": 27, "lr": 0.00345, "weight_decay": 0.0567}, 255.25,
                             "minimize", 2, (3, 0, 0), 6, "cpu")),
        # | parameter | the report's table | ours |, right under each table's header
        ["(`tune.py ae`) |\n|---|---:|---:|\n| d | 185 | 46 |\n| optimizer | Adam | SGD |\n"
         "| lr | 0.0058 | 0.00195 |",
         "(`tune.py classifier`) |\n|---|---:|---:|\n| no1 | 12 | 13 |\n| no2 | 74 | 7 |\n"
         "| mlp_optimizer | Adam | SGD |\n| mlp_lr | 0.0002 | 0.0234 |\n"
         "| mlp_dropout | 0.0676 | 0.0625 |\n| mlp_weight_decay | 0.1679 | 0.000789 |\n\n"
         "Best maximised value 0.8765 (trial 4); 5 complete, 2 pruned, 1 failed trials, "
         "7 epochs each, on cuda.",
         "(`tune.py vae`) |\n|---|---:|---:|\n| d | 44 | 27 |\n| lr | 0.0002 | 0.00345 |\n"
         "| weight_decay | 0.0018 | 0.0567 |\n\nBest minimised value 255.25 (trial 2); "
         "3 complete, 0 pruned, 0 failed trials, 6 epochs each, on cpu."], []),
    "table 6": (dict(classify={
        "table6": {"table5": table6_recipe("Table 5", [0.61 + 0.01 * c for c in range(10)],
                                           0.8123, 0.0045, 8.34),
                   "ours": table6_recipe("OURS in classify.py",
                                         [0.71 + 0.01 * c for c in range(10)], 0.9012, 0.0021,
                                         123.4)},
        "table6_run": {"settings": {"epochs": 10, "subset": 2000}, "device": "cpu"}}),
        ["## Table 6: the classifier on 1,000 test images",                # the support's sum
         "| class | F1 CL, report | F1, Table 5 recipe | F1, our recipe |",
         "| T-shirt/top | 85.36 | 61.00 | 71.00 |", "| Ankle boot | 96.74 | 70.00 | 80.00 |",
         "| **accuracy** | **90.08** | **81.23 ± 0.45** | **90.12 ± 0.21** |",
         "| training time (s) | 61 (a GPU) | 8.3 (cpu) | 123 (cpu) |",
         "Ours: mean (± standard deviation) over 2 seed(s), 10 epochs on a subset "
         "(--subset 2000), tested once."], []),
    "labels": (dict(labels={
        "label": "our recipe", "steps": 2352,
        "accuracy": {"fine-tuned": way((0.7234, 0.0123), (0.8312, 0.0071)),
                     "frozen": way((0.6891, 0.0042), (0.7713, 0.0016)),
                     "random": way((0.6441, 0.0212), (0.7922, 0.0033))}}),
        ["## Beyond the report: test accuracy against labels (our recipe)",
         "| labelled images | fine-tuned | frozen | random |",
         "| 100 | 72.34 ± 1.23 | 68.91 ± 0.42 | 64.41 ± 2.12 |",
         "| 1,000 | 83.12 ± 0.71 | 77.13 ± 0.16 | 79.22 ± 0.33 |",
         "Every run takes 2,352 optimisation steps"], []),
    "latent space": (dict(explore={
        "knn": {"raw pixels": 0.7654,
                "AE": {"latent": 0.8123, "PCA 2-D": 0.5234, "t-SNE 2-D": 0.7891},
                "VAE": {"latent": 0.8012, "PCA 2-D": 0.4567, "t-SNE 2-D": 0.7362}},
        "smoothness": {"AE": {"mean": 0.1371, "std": 0.0234},
                       "VAE": {"mean": 0.1552, "std": 0.0311}}},
        samples={"images_per_row": 2500, "judge_test_accuracy": 0.8876,
                 "rows": dict(reversed(SAMPLE_ROWS.items())),   # in another order than ROWS
                 "training_codes": 48000, "verdict": "A verdict written by the judge."}),
        ["| space | AE | VAE |", "| raw pixels | 0.765 | 0.765 |", "| latent | 0.812 | 0.801 |",
         "| PCA 2-D | 0.523 | 0.457 |", "| t-SNE 2-D | 0.789 | 0.736 |",
         "| AE | 0.137 | 0.023 |", "| VAE | 0.155 | 0.031 |",         # mean, sd
         "2,500 images per row", "(test accuracy 88.8 %)", "codes of the 48,000 training images",
         "**Verdict on the third claim:** A verdict written by the judge."] + [
            f"| {label} | {0.5 + 0.011 * i:.3f} | {0.2 + 0.021 * i:.3f} | "
            f"{1.5 + 0.12 * i:.2f} | {10.0 + 7.31 * i:.2f} |"
            for i, label in enumerate(beyond.samples.ROWS.values())], ["mean nothing"]),
}


@pytest.mark.parametrize("section", SUMMARY_TABLES)
def test_summary_traces_each_number_to_its_results_file(section, tmp_path):
    files, lines, absent = SUMMARY_TABLES[section]
    write_results(tmp_path, **files)
    summary.main(["--out-dir", str(tmp_path)])
    md = (tmp_path / "summary.md").read_text()
    assert [line for line in lines if line not in md] == []
    assert [line for line in absent if line in md] == []


def test_summary_times_table_total_and_wall_times(tmp_path):  # wall times: never summed as steps
    (tmp_path / "seeds.json").write_text("{}")               # a results file, of no section
    (tmp_path / "times.tsv").write_text("step\tstart\tend\tseconds\ntune_ae\t0\t12\t12\n"
                                        "tune_vae\t0\t34\t34\nrefit_ae\t12\t20.4\t8.4\n"
                                        "wall time\t0\t41\t41\n"
                                        "wall time, seed runs and studies included\t0\t95.4\t95.4\n")
    summary.main(["--out-dir", str(tmp_path)])
    assert ("| tune_ae | 0 | 12 | 12 |\n| tune_vae | 0 | 34 | 34 |\n| refit_ae | 12 | 20 | 8 |\n\n"
            "The steps one after another: 54 s.\nWall time: 41 s.\n"
            "Wall time, seed runs and studies included: 95 s.\n") in (
                tmp_path / "summary.md").read_text()


# --- scripts/summary.py: end to end, on the real data ------------------------

def test_summary_puts_our_numbers_beside_the_reports(quick_ae, tmp_path):
    shutil.copy(quick_ae / "ae.json", tmp_path)
    shutil.copy(quick_ae / "fig01_loss_adam_vs_sgd.png", tmp_path)
    run("scripts.summary", "--out-dir", tmp_path)
    md = (tmp_path / "summary.md").read_text()
    refit = json.loads((quick_ae / "ae.json").read_text())["refit"]
    assert f"| refit (Table 4) | 185 | 2 | {refit['val_mse'][-1]:.5f} |" in md
    assert f"PCA with 64 components: {refit['pca_bottleneck_val_mse']:.5f}" in md
    assert "Not tuned here (no tuned_ae.json): the scripts used Table 4." in md
    assert "[fig01_loss_adam_vs_sgd.png]" in md and "fig02" not in md   # only the figures there
    assert one_line_error(run("scripts.summary", "--out-dir", tmp_path / "empty", ok=False))


# =============================================================================
# scripts/seeds.py: both configurations over seeds: means, spreads and verdicts
# =============================================================================

# --- scripts/seeds.py: the maths: means, spreads, verdicts -------------------

def jitter(key, values, by):
    """Three seeds for write_seed_folder: `key` = values, each moved by -by, 0 and +by."""
    return [{key: tuple(v + d for v in values)} for d in (-by, 0.0, by)]


def vae_samples(fds, shares, box=(100.0, 0.22), mixture=(10.0, 0.52)):
    """Per-seed `samples` for write_seed_folder: the VAE's numbers, one per seed."""
    return [dict(samples=(box, mixture, (fd, share))) for fd, share in zip(fds, shares)]


# The verdict rules at their boundaries, with numbers floating point holds exactly: the
# values of a are 1, 2, 3 (mean 2, sd 1), those of b mean 4 + shift, sd 1
E = 2.0 ** -20


@pytest.mark.parametrize("shift, a_against_b", [
    (0.0, "tie"),                 # |2 - 4| = 2 = 1 + 1: exactly at the spread
    (-E, "tie"), (-0.25, "tie"),  # just inside, well inside
    (E, "lower"), (0.25, "lower"),  # just outside, well outside
])
def test_compare_is_a_tie_up_to_exactly_the_two_spreads(shift, a_against_b):
    a, b = [1.0, 2.0, 3.0], [3.0 + shift, 4.0 + shift, 5.0 + shift]
    assert seeds.spread(a)[:2] == (2.0, 1.0) and seeds.spread(b)[:2] == (4.0 + shift, 1.0)
    assert seeds.compare(a, b) == a_against_b
    assert seeds.compare(b, a) == {"tie": "tie", "lower": "higher"}[a_against_b]


# Each claim at the edge of the spread, in both configurations: the claimed-better number
# level with its rival exactly at the two spreads (sd 1/64 each, so 1/32 apart), then 2**-20
# beyond them (E above)
D = 2.0 ** -6


def claim_runs(claim, beyond):
    """Three seeds of one configuration, every number of `claim` on the edge: beyond=False
    puts the claimed-better number exactly at the two spreads from its rival, True just past."""
    edge = 2 * D + (E if beyond else 0.0)
    if claim == "separation":   # the VAE's latent below the raw pixels (0.75) by `edge`
        return jitter("knn", (0.75, 0.875, 0.75 - edge), D)
    if claim == "smoothness":   # the VAE's walks more even than the AE's (0.25) by `edge`
        return jitter("smooth", (0.25, 0.25 - edge), D)
    # samples: the VAE's Frechet distance below the box's by 32 x `edge`, its own spread
    # (64 x 1/64 = 1; the box's is 0), and its share far above the box's
    return vae_samples([100.0 - 32 * edge + 64 * j for j in (-D, 0.0, D)], [0.40] * 3)


@pytest.mark.parametrize("claim, at_the_spread, beyond_it", [
    ("separation", ("holds", "holds"), ("fails", "fails")),  # below the pixels: fails
    ("smoothness", ("tie", "depends"), ("higher", "holds")),
    ("samples", ("within the spread", "depends"), ("better", "holds")),
])
def test_each_claim_turns_where_its_numbers_part_by_more_than_the_two_spreads(
        claim, at_the_spread, beyond_it, tmp_path):
    for beyond, (state, verdict) in ((False, at_the_spread), (True, beyond_it)):
        runs = claim_runs(claim, beyond)
        out = make_out(tmp_path / str(beyond), {"tables": runs, "tuned": runs})
        result = seeds.results(out)["verdicts"][claim]
        assert result["per_config"] == {"tables": state, "tuned": state}, beyond
        assert result["verdict"] == verdict, beyond


WINS_EACH_RUN = vae_samples((88, 90, 99), (0.23, 0.24, 0.30))  # but within the spread
# (claim, seed runs of the report's tables, of the tuned (None: the same), verdict, in seeds.md)
VERDICTS = [
    # smoothness = (AE, VAE): the VAE smoother in both, far beyond the spread (sd 0.005)
    ("smoothness", jitter("smooth", (0.30, 0.12), .005), jitter("smooth", (0.25, 0.11), .005),
     "holds", "holds, the VAE's walks are more even"),
    ("smoothness", jitter("smooth", (0.12, 0.30), .005), jitter("smooth", (0.11, 0.25), .005),
     "contradicted", "does not hold, the AE's walks"),
    ("smoothness", jitter("smooth", (0.30, 0.12), .005), jitter("smooth", (0.11, 0.25), .005),
     "depends", "VAE smoother; tuned values: AE 0.110, VAE 0.250, AE smoother"),  # sign flips
    ("smoothness", jitter("smooth", (0.140, 0.141), .005), None,
     "depends", "AE smoother within the spread"),        # the same sign, inside the spread
    # knn = (raw pixels, AE, VAE): the VAE level with the pixels, then clearly below them
    ("separation", jitter("knn", (0.80, 0.82, 0.80), .01), None, "holds", "holds in both"),
    ("separation", jitter("knn", (0.80, 0.82, 0.80), .01), jitter("knn", (0.80, 0.82, 0.60), .01),
     "depends", "it holds only with the report's tables"),
    # every latent mean must be above 5 x chance (0.5): one of them at 0.5 - E, 0.5, 0.5 + E,
    # still far above the pixels (0.25), with the tuned values
    *[("separation", jitter("knn", (0.25, 0.75, 0.75), D), jitter("knn", (0.25, *latents), D),
       "holds" if at > 0.5 else "depends", "") for at in (0.5 - E, 0.5, 0.5 + E)
      for latents in ((at, 0.75), (0.75, at))],
    # samples, against the box (Frechet distance 100, share 0.22 in every seed)
    ("samples", vae_samples((28, 30, 32), (0.39, 0.40, 0.41)), None,  # far closer and surer
     "holds", "and an AE sampled from a mixture of 10 Gaussians"),
    ("samples", vae_samples((28, 30, 32), (0.39, 0.40, 0.41), mixture=(31.0, 0.40)), None,
     "holds", "and the AE's mixture sampler does not beat the VAE"),   # mixture level with it
    ("samples", WINS_EACH_RUN, None, "holds in every run", "(6 of 6: closer and more"),
    ("samples", vae_samples((60, 70, 110), (0.30, 0.31, 0.32)), None,  # one run farther
     "depends", "wins on both numbers in 4 of 6"),
    ("samples", vae_samples((150, 151, 152), (0.10, 0.11, 0.12)), None,
     "contradicted", "the box's samples are"),
    # every run within the spread: only strict wins on both numbers count as won
    ("samples", vae_samples((88, 90, 100), (0.23, 0.24, 0.30)), WINS_EACH_RUN,  # equal distance
     "depends", "the VAE wins on both numbers in 5 of 6 runs"),
    ("samples", vae_samples((90, 95, 99), (0.22, 0.35, 0.24)), None,           # equal share
     "depends", "in 4 of 6 runs"),
    ("samples", WINS_EACH_RUN, vae_samples((88, 89, 101), (0.23, 0.24, 0.30)),
     "depends", "in 5 of 6 runs"),
    # a NaN (a diverged run) is shown as such, and the verdict that needs it is undecided
    ("smoothness", [{}] * 3, [{}, {"smooth": (math.nan, 0.15)}, {}], "undecided",
     "| smoothness, AE (0.100 = even; lower = smoother) | 0.140 (all 3 seeds) | nan (a seed's "
     "number is nan; 3 seeds) |"),
]


@pytest.mark.parametrize("claim, tables, tuned, verdict, said", VERDICTS)
def test_each_verdict_follows_its_rule(claim, tables, tuned, verdict, said, tmp_path):
    out = make_out(tmp_path, {"tables": tables, "tuned": tuned or tables})
    result, text = seeds.results(out)["verdicts"][claim], seeds.markdown(out)
    assert result["verdict"] == verdict
    assert result["sentence"] in text and said in text


# --- scripts/seeds.py: which seed runs count ---------------------------------

def test_a_stopped_seed_run_is_left_out_by_name_and_the_rest_summarised(quick_ae, tmp_path):
    for missing in seed_runs.STEP_FILES:       # a step's results file, and those of the steps after
        out = make_out(tmp_path / missing, {"tables": [{}, {}, {}], "tuned": [{}, {}, {}]})
        (out / "seeds" / "tables" / "seed2" / missing).unlink()
        data = seeds.results(out)
        assert [data["configs"][c]["seeds"] for c in ("tables", "tuned")] == [[0, 1], [0, 1, 2]]
        assert data["left_out"] == {"tables": {2: f"no {missing}"}}, missing
    # stopped between its two writes: ae.json describes another ae.pt than the one beside it
    ae = out / "seeds" / "tuned" / "seed1" / "ae.json"
    ae.write_text(json.dumps({"refit": {**json.loads(ae.read_text())["refit"], "checkpoint": 1}}))
    # the tuned values changed since the seed runs copied them: a note that names the file
    (out / "tuned_ae.json").write_text('{"params": {"d": 12}}')
    (out / "seeds" / "tuned" / "seed0" / "tuned_ae.json").write_text('{"params": {"d": 46}}')
    proc = run("scripts.seeds", "--out-dir", out)
    assert f"{out}/seeds/tables/seed2 is not a whole run (no {missing})" in proc.stdout
    assert f"{out}/seeds/tuned/seed1 is not a whole run (ae.json describes another" in proc.stdout
    assert f"**Stale:** tuned_ae.json in {out} changed after these seed runs" in proc.stdout
    # summary.py writes its sections even when the seed runs cannot be summarised at all
    (out / "seeds" / "tuned" / "seed0" / "vae.json").write_text('{"test": ')
    (out / "tuned_ae.json").unlink()
    shutil.copy(quick_ae / "ae.json", out / "ae.json")
    proc = run("scripts.summary", "--out-dir", out)
    md = (out / "summary.md").read_text()
    assert "## The autoencoder" in md and "The seed runs could not be summarised" in md


# --- scripts/seeds.py: what the results say ----------------------------------

# (tuned seed 1, as write_seed_folder takes it, or no folder; a file replaced; the line said)
SEEDS_DAMAGED = [
    ({}, ("tables/seed0/vae.json", '{"test": {}}'), "tables/seed0/vae.json"),    # a key missing
    ({"accuracy": "90 %"}, None,
     "tuned/seed1/classify.json: table6.table5.runs.0.accuracy is '90 %', not a number"),
    ({"knn": (0.8, "0.82", 0.8)}, None,
     "tuned/seed1/explore.json: knn.AE.latent is '0.82', not a number"),
    (None, None, "nothing")]


@pytest.mark.parametrize("seed1, damage, says", SEEDS_DAMAGED)
def test_seeds_says_what_is_wrong_in_one_line(seed1, damage, says, tmp_path):
    out = (tmp_path / "nothing" if seed1 is None
           else make_out(tmp_path, {"tables": [{}, {}], "tuned": [{}, seed1]}))
    if damage:
        (out / "seeds" / damage[0]).write_text(damage[1])
    proc = run("scripts.seeds", "--out-dir", out, ok=False)
    assert one_line_error(proc) and says in proc.stderr, proc.stderr


# key of seeds.METRICS: its (mean, delta) in the tables' and the tuned seed runs, three seeds
# each: mean - delta, mean, mean + delta (sample sd = delta); None: absent
SEED_METRICS = {
    "ae_d": ((185, 0), (46, 0)),
    "ae_val_mse": ((0.01234, 0.00011), (0.02345, 0.00012)),
    "pca_val_mse": ((0.00456, 0.00021), (0.00567, 0.00022)),
    "pca64_val_mse": ((0.01043, 0.00033), None),
    "vae_d": ((44, 0), (27, 0)),
    "vae_neg_elbo": ((250.3, 1.2), (260.7, 2.3)),
    "vae_iw_bound": ((246.4, 0.8), (255.6, 1.1)),
    "accuracy": ((0.8912, 0.0011), (0.9034, 0.0023)),
    "knn_raw": ((0.811, 0.002), (0.822, 0.003)),
    "knn_ae": ((0.833, 0.004), (0.844, 0.005)),
    "knn_vae": ((0.855, 0.006), (0.866, 0.007)),
    "knn_ae_pca": ((0.511, 0.008), (0.522, 0.009)),
    "knn_vae_pca": ((0.533, 0.011), (0.544, 0.012)),
    "knn_ae_tsne": ((0.755, 0.013), (0.766, 0.014)),
    "knn_vae_tsne": ((0.777, 0.015), (0.788, 0.016)),
    "smooth_ae": ((0.137, 0.017), (0.148, 0.018)),
    "smooth_vae": ((0.159, 0.019), (0.161, 0.021)),
    "fd_box": ((144.2, 3.1), (133.4, 4.2)),
    "fd_mixture": ((8.9, 0.7), (9.8, 0.6)),
    "fd_vae": ((72.8, 5.3), (66.4, 6.1)),
    "sure_box": ((0.221, 0.012), (0.232, 0.013)),
    "sure_mixture": ((0.521, 0.014), (0.532, 0.015)),
    "sure_vae": ((0.281, 0.016), (0.292, 0.017)),
}


def write_seed_runs(out):
    """OUT/seeds/{tables,tuned}/seed{0,1,2}/: the five results files, each number where its
    script writes it, from SEED_METRICS; each classifier run among other seeds' runs."""
    for column, config in enumerate(("tables", "tuned")):
        for seed, k in enumerate((-1, 0, 1)):
            v = {key: None if spec[column] is None else spec[column][0] + k * spec[column][1]
                 for key, spec in SEED_METRICS.items()}
            write_seed_folder(
                out / "seeds" / config / f"seed{seed}", seed, d=v["ae_d"], ae_mse=v["ae_val_mse"],
                pca=(v["pca_val_mse"], v["pca64_val_mse"]), vae_d=v["vae_d"],
                bounds=(v["vae_neg_elbo"], v["vae_iw_bound"]), accuracy=v["accuracy"],
                extra_runs=(7, 8), knn=(v["knn_raw"], v["knn_ae"], v["knn_vae"]),
                knn_2d=(v["knn_ae_pca"], v["knn_ae_tsne"], v["knn_vae_pca"], v["knn_vae_tsne"]),
                smooth=(v["smooth_ae"], v["smooth_vae"]),
                samples=[(v[f"fd_{row}"], v[f"sure_{row}"]) for row in ("box", "mixture", "vae")])


def test_seeds_traces_every_number_to_where_its_script_writes_it(tmp_path):
    write_seed_runs(tmp_path)
    data = seeds.results(tmp_path)
    configs = data["configs"]
    assert "studies" not in data                              # no OUT/studies/: no table
    for key, specs in SEED_METRICS.items():
        for config, spec in zip(("tables", "tuned"), specs):
            metric = configs[config]["metrics"][key]
            assert metric["n"] == (0 if spec is None else 3), (key, config)
            if spec:                        # (mean, the sample sd of three seeds); accuracy in %
                mean, sd = [100 * v for v in spec] if key == "accuracy" else spec
                assert (metric["mean"], metric["sd"]) == pytest.approx((mean, sd)), (key, config)
    # | number | report's tables | tuned values |: mean ± sd (3 seeds), as written by hand
    text = seeds.markdown(tmp_path)
    for row in ("| AE: code size d | 185 (all 3 seeds) | 46 (all 3 seeds) |",
                "| PCA, 64 components (when d > 64): validation MSE | 0.01043 ± 0.00033 (3 seeds) "
                "| — |", "| VAE: test -log p(x) <= (IW bound, nats) | 246.4 ± 0.8 (3 seeds) | "
                "255.6 ± 1.1 (3 seeds) |",                               # minus iw_log_px
                "| classifier: test accuracy (%) | 89.12 ± 0.11 (3 seeds) | 90.34 ± 0.23 "
                "(3 seeds) |",
                "| samples, share judged ≥ 0.9: VAE, N(0, I) | 0.281 ± 0.016 (3 seeds) | "
                "0.292 ± 0.017 (3 seeds) |",
                # the verdicts quote the means of their rows
                "report's tables: AE 0.833 (above), VAE 0.855 (above) against raw pixels 0.811",
                "tuned values: AE 0.844 (above), VAE 0.866 (above) against raw pixels 0.822",
                "report's tables: AE 0.137, VAE 0.159, AE smoother within the spread",
                "tuned values: AE 0.148, VAE 0.161, AE smoother within the spread",
                "report's tables: Fréchet distance VAE 72.8, box 144.2, mixture 8.9; share "
                "≥ 0.9 VAE 0.281, box 0.221, mixture 0.521; VAE against box: better",
                "tuned values: Fréchet distance VAE 66.4, box 133.4, mixture 9.8; share ≥ 0.9 "
                "VAE 0.292, box 0.232, mixture 0.532; VAE against box: better"):
        assert row in text, row
    rows = [line for line in text.splitlines() if line.startswith("| ") and "seed" in line]
    assert [row.split(" | ")[0] for row in rows] == [f"| {label}" for _, label, *_ in seeds.METRICS]


def test_seeds_md_times_tables_leave_the_reused_runs_out(tmp_path):
    out = make_out(tmp_path, {"tables": [{}, {}], "tuned": [{}, {}]})
    (out / "times.tsv").write_text("step\tstart\tend\tseconds\ntune_ae\t0\t65\t65\n"
                                   "wall time, seed runs and studies included\t0\t480\t480\n")
    runs = [("tables", 0, (10, 20, 30, 40, 5)), ("tables", 1, (12, 22, 32, 44, 7)),
            ("tuned", 0, ("reused",) * 5), ("tuned", 1, (14, 24, 34, 46, 6))]
    for config, seed, times in runs:                    # each seed run's own, as reproduce writes
        (out / "seeds" / config / f"seed{seed}" / "times.tsv").write_text("".join(
            f"{config}\t{seed}\t{step}\t{t}\n"
            for step, t in zip(("refit_ae", "classify", "vae", "explore", "samples"), times)))
    text = seeds.markdown(out)
    assert "tune_ae" not in text                        # the report's own steps: in summary.md
    # | step | report's tables | tuned values |: mean over the runs that trained
    for row in ("| refit_ae | 11 s (2 runs) | 14 s (1 run) |",
                "| classify | 21 s (2 runs) | 24 s (1 run) |",
                "| vae | 31 s (2 runs) | 34 s (1 run) |",
                "| explore | 42 s (2 runs) | 46 s (1 run) |",
                "| samples | 6 s (2 runs) | 6 s (1 run) |",
                "| total per seed | 111 s (2 seeds) | 124 s (1 seed) |",
                "All the seed runs: 346 s (5.8 min) of steps; the whole run, seed runs and "
                "studies included, took 480 s (8.0 min) (wall time)."):
        assert row in text


# --- scripts/seeds.py: the noise of tuning against the noise of training -----

# Four studies: each one's AE code size, the AE's and the VAE's 10-NN accuracy (pixels: 0.80)
STUDY_D, STUDY_KNN_AE, STUDY_KNN_VAE = (46, 12, 219, 7), (.84, .86, .82, .1), (.5, .45, .4, .9)


def write_studies(out, n):
    """OUT/studies/study<K>/ for K < n with its tuned_*.json, at the report's seed (0)."""
    write_seed_folder(out, 0)
    for k in range(n):
        folder = out / "studies" / f"study{k}"
        write_seed_folder(folder, 0, knn=(0.80, STUDY_KNN_AE[k], STUDY_KNN_VAE[k]),
                          accuracy=0.88 + 0.01 * k ** 2)
        write_results(folder, tuned_ae={"params": {"d": STUDY_D[k], "lr": 0.00123 * k}},
                      tuned_classifier={"params": {"no1": 12 + k}},
                      tuned_vae={"params": {"d": 44 - k}})
    return out


def test_tuning_noise_table_alone_then_beside_the_tuned_seed_runs(tmp_path):
    assert seeds.markdown(tmp_path) == ""                  # neither seed runs nor studies
    out = write_studies(tmp_path / "out", 4)
    (out / "studies" / "study3" / "samples.json").unlink()            # stopped part way
    seeds.main(["--out-dir", str(out)])                                # no seed runs yet
    text = (out / "seeds.md").read_text()
    assert text.startswith("# Tuning noise against training noise") and "## Verdicts" not in text
    assert "| 10-NN accuracy: AE latent | — | 0.840 ± 0.020 (3 studies) |" in text
    assert "fails over the 3 studies, and no seed runs of the tuned values" in text
    make_out(tmp_path, {"tables": [{}, {}, {}], "tuned": [{}, {}, {}]})
    data = seeds.results(out)["studies"]
    assert data["studies"] == [0, 1, 2] and data["left_out"] == {3: "no samples.json"}
    accuracy, by_hand = data["metrics"]["accuracy"], [88, 89, 92]      # in %
    assert [accuracy["mean"], accuracy["sd"]] == pytest.approx(
        [statistics.fmean(by_hand), statistics.stdev(by_hand)])
    assert "ae_d" not in data["metrics"]                  # no claim reads it: not in the table
    text = seeds.markdown(out)
    assert text.index("## Verdicts") < text.index("## Tuning noise")      # after the seed runs
    assert f"{out}/studies/study3 is not a whole study (no samples.json)" in text
    for row in ("| tuned value | study 0 | study 1 | study 2 |", "| ae: d | 46 | 12 | 219 |",
                "| ae: lr | 0 | 0.00123 | 0.00246 |", "| classifier: no1 | 12 | 13 | 14 |",
                "| vae: d | 44 | 43 | 42 |",
                "| number | tuned values, over training seeds | over the studies |",
                # the seed runs: 0.82 and 0.80 in every seed; the studies: mean ± sd, by hand
                f"| 10-NN accuracy: AE latent | 0.820 (all 3 seeds) | "
                f"{statistics.fmean(STUDY_KNN_AE[:3]):.3f} ± "
                f"{statistics.stdev(STUDY_KNN_AE[:3]):.3f} (3 studies) |",
                "| 10-NN accuracy: VAE latent | 0.800 (all 3 seeds) | 0.450 ± 0.050 (3 studies) |",
                # every study's VAE latent under 5 x chance: a verdict that does not survive
                "- Classes separate in the latent space: fails over the 3 studies, holds over the "
                "tuned values' training seeds: the verdict does not survive another tuning run.",
                "- The VAE's samples are better than the AE's (the notebook's min-max box): "
                "better over the 3 studies, better over the tuned values' training seeds: the "
                "verdict survives another tuning run."):
        assert row in text, row


# =============================================================================
# plumbing/steps.py: steps side by side, the machinery of `python -m scripts.reproduce`.
# What keeps a run of the whole report safe; it teaches nothing of the report.
# =============================================================================

# --- plumbing/steps.py: every flag, seed and path checked before any step ----

@pytest.mark.parametrize("flag", ["--seeds", "--studies"])
def test_reproduce_seeds_and_studies_flags_are_checked_and_documented(flag):
    assert f"{flag} N" in run("scripts.reproduce", "--help").stdout
    for bad in ([flag, "0"], [flag, "x"], [flag]):
        assert one_line_error(run("scripts.reproduce", *bad, ok=False)), bad


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_mistyped_flag_deletes_nothing_and_trains_nothing(tmp_path):
    out = make_out(tmp_path, {"tables": [{}, {}], "tuned": [{}, {}]})   # earlier seed runs
    for name in ("seeds.md", "seeds.json", "times.tsv"):
        (out / name).write_text(f"an earlier {name}\n")
    before = snapshot(out)
    for flags in (["--seeds", "2", "--epocs", "3"], ["--epocs", "3"],
                  ["--tsne-points", "5"]):        # explore.py's flag: the other steps refuse it
        proc = reproduce(*flags, "--out-dir", out)
        assert proc.returncode == 2 and one_line_error(proc), (flags, proc.stderr)
        assert "unrecognized arguments" in proc.stderr and "reproduce.py: tune.py ae" in proc.stderr
    assert snapshot(out) == before                  # no file deleted, emptied or written


@pytest.mark.parametrize("flags, workers, says", [
    (["--workers", "2"], "", "2 tuning workers"), ([], "2", "2 tuning workers"),
    (["--seeds", "2"], "", "2 seed runs"), (["--studies", "2"], "", "2 studies x workers")])
def test_reproduce_checks_every_workers_seed_before_any_step(flags, workers, says, steps_spy,
                                                             tmp_path, monkeypatch):
    monkeypatch.setenv("WORKERS", workers)     # empty: unset, as `WORKERS= python -m ...`
    out = tmp_path / "out"
    proc = reproduce("--quick", *CPU, "--seed", 2**32 - 1, *flags, "--out-dir", out)
    assert one_line_error(proc) and says in proc.stderr and "2**32" in proc.stderr, proc.stderr
    assert not out.exists()
    steps_spy.module.main(["--quick", *CPU, "--seed", str(2**32 - 2), "--workers", "2",
                           "--out-dir", str(out)])
    assert [flag_value(c, "--seed") for c in commands_of(steps_spy, "tune.py", "ae")] == [
        str(2**32 - 2), str(2**32 - 1)]                      # the last seed that fits


def out_dir_of(tmp_path, size):
    """A folder under tmp_path (made) whose OUT/optuna.db is a path of `size` bytes."""
    folder = tmp_path
    while (left := size - len(os.fsencode(folder / "optuna.db"))) > 0:
        folder = folder / ("d" * (150 if left > 201 else left - 1))   # "/" + its name
    folder.mkdir(parents=True)
    assert len(os.fsencode(folder / "optuna.db")) == size
    return folder


def test_reproduce_refuses_an_out_dir_too_long_for_sqlite_before_any_step(steps_spy, tmp_path):
    """SQLite opens paths of at most 512 bytes, its journal's (OUT/optuna.db-journal) too: so
    504 bytes for the studies' storage. One longer is one line, naming the fix."""
    too_long = out_dir_of(tmp_path / "a", 505) / "out"
    proc = reproduce("--quick", *CPU, "--out-dir", too_long.parent)
    assert one_line_error(proc) and "SQLite" in proc.stderr, proc.stderr
    assert "shorter --out-dir" in proc.stderr
    assert not steps_spy.started and list(too_long.parent.iterdir()) == []
    longest = out_dir_of(tmp_path / "b", 504)
    steps_spy.module.main(["--quick", *CPU, "--out-dir", str(longest)])
    assert len(commands_of(steps_spy, "tune.py", "ae")) == 1
    with contextlib.closing(sqlite3.connect(longest / "optuna.db")) as db, db:   # SQLite's own
        db.execute("create table t (x)")                    # a write: its journal opens too
    proc = reproduce("--quick", *CPU, "--studies", "2", "--out-dir", longest)  # studies/study1/
    assert one_line_error(proc) and "OUT/studies/studyK/optuna.db" in proc.stderr, proc.stderr


# --- plumbing/steps.py: paths from the caller's folder -----------------------

@pytest.mark.parametrize("flags, folder", [
    (["--quick"], "outputs/quick"), ([], "outputs"),
    (["--quick", "--out-dir", "rel_out", "--data-dir=rel_data"], "rel_out")])
def test_reproduce_takes_every_path_from_the_callers_folder(flags, folder, steps_spy, tmp_path,
                                                           monkeypatch):
    """By default into outputs/ (--quick: outputs/quick/) of the folder it is called from;
    each step runs in the project's folder, with every path made absolute."""
    monkeypatch.chdir(tmp_path)
    steps_spy.module.main([*flags, *CPU])
    out = tmp_path / folder
    assert (out / "times.tsv").exists() and (out / "logs" / "tune_ae.log").exists()
    assert [p.name for p in tmp_path.iterdir()] == [folder.split("/")[0]]
    assert steps_spy.started and all(p.cwd == ROOT for p in steps_spy.started)  # the project's
    for process in steps_spy.started:
        assert flag_value(process.command, "--out-dir") == str(out)
        if "rel_out" in flags and process.command[:2] != ["-m", "scripts.summary"]:
            assert f"--data-dir={tmp_path / 'rel_data'}" in process.command
    refit = commands_of(steps_spy, "ae.py", "--part", "refit")[0]
    assert refit[3:5] == ["--params", str(out / "tuned_ae.json")]
    assert plumbing.steps.absolute_paths(
        ["--data-dir", "d", "--out-dir=~/o", "--seed", "3", "--data-dir", " "]) == [
        "--data-dir", str(tmp_path / "d"), f"--out-dir={Path.home() / 'o'}", "--seed", "3",
        "--data-dir", " "]


# --- plumbing/steps.py: one run per folder -----------------------------------

def test_reproduce_refuses_a_held_folder_held_by_each_step_until_the_last_has_ended(
        steps_spy, tmp_path):
    """A second run into a held folder is refused in one line. Each step inherits the lock: a
    run killed with SIGKILL (no handler runs) leaves the folder held until its last step ends."""
    out = tmp_path / "out"
    holder = subprocess.Popen(    # a run whose one step, a sleeper, starts as every step does
        [sys.executable, "-c", "import argparse, pathlib, time;"
         " from plumbing.steps import Task, hold_lock, start;"
         f" out = pathlib.Path({str(out)!r});"
         " run = argparse.Namespace(lock=hold_lock(out), threads='1');"
         " start(Task('sleeper', [['-c', 'import time; time.sleep(300)']], out), run);"
         " time.sleep(300)"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    step = int(re.search(r"start +sleeper +pid (\d+)", holder.stdout.readline()).group(1))
    before = snapshot(out)
    proc = reproduce("--quick", *CPU, "--out-dir", out)
    assert one_line_error(proc) and str(out) in proc.stderr and f"pid {holder.pid}" in proc.stderr
    holder.kill()
    holder.wait()
    assert one_line_error(reproduce("--quick", *CPU, "--out-dir", out))   # the step holds it
    assert snapshot(out) == before and not steps_spy.started    # nothing written, no step run
    os.kill(step, signal.SIGKILL)             # (os.killpg is steps_spy's, in this test)
    wait_until(lambda: reproduce("--quick", *CPU, "--out-dir", out).returncode == 0, timeout=30)
    assert commands_of(steps_spy, "tune.py", "ae")           # free with the last of them


def test_reproduce_refuses_a_lock_that_is_a_folder_in_one_line(steps_spy, tmp_path):
    out = tmp_path / "out"
    (out / ".reproduce.lock").mkdir(parents=True)
    proc = reproduce("--quick", *CPU, "--out-dir", out)
    assert one_line_error(proc) and ".reproduce.lock" in proc.stderr, proc.stderr
    assert not steps_spy.started and [p.name for p in out.iterdir()] == [".reproduce.lock"]


# --- plumbing/steps.py: a failing step stops the others ----------------------

@pytest.mark.parametrize("fails, code, status", [
    (("ae", "0"), 3, 3), (("ae", "1"), 3, 3),      # worker 1 or 2 (--seed 1): its own status
    (("vae", "0"), -9, 137), (("vae", "0"), -15, 143), (("vae", "0"), -2, 130)])  # signal N
def test_reproduce_a_failing_step_stops_every_other_and_exits_with_its_status(
        fails, code, status, steps_spy, tmp_path, capsys):
    """A tuning worker that exits with a status, or dies of signal N (Popen's returncode -N,
    the run's status then 128 + N, as a shell says): every other running process is stopped."""
    steps_spy.exit_status = lambda c: (code if (c[1], flag_value(c, "--seed")) == fails
                                       else None) if c[0] == "tune.py" else 0  # tuning runs on
    with pytest.raises(SystemExit) as e:
        steps_spy.module.main(["--quick", *CPU, "--workers", "2", "--jobs", "2", "--out-dir",
                               str(tmp_path / "out")])
    assert e.value.code == status
    stopped = {(c[1], flag_value(c, "--seed")): s for c, s in steps_spy.signalled}
    workers = {("ae", "0"), ("ae", "1"), ("vae", "0"), ("vae", "1")}
    assert stopped == dict.fromkeys(workers - {fails}, signal.SIGTERM)
    assert not commands_of(steps_spy, "ae.py")               # no step starts after a failure
    console = capsys.readouterr().out
    other = {"ae": "vae", "vae": "ae"}[fails[0]]
    assert f"FAILED  tune_{fails[0]}  exit {status} " in console
    assert f"stopped tune_{other}" in console
    assert f"$ python tune.py {fails[0]}" in console         # the end of its log, shown


# --- plumbing/steps.py: Ctrl-C and SIGTERM reach every step ------------------

def wait_until(condition, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def training(log):
    """The step of this log is past its imports and its flags: it trains, or reads data."""
    return log.exists() and "settings:" in log.read_text()


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("workers, kill, signum, status", [
    ("1", os.kill, signal.SIGTERM, 143),       # SIGTERM to the orchestrator, not its group
    ("2", os.killpg, signal.SIGINT, 130)])     # Ctrl-C: the terminal's group
def test_reproduce_a_signal_stops_every_running_step_and_nothing_is_written_after(
        workers, kill, signum, status, data_dir, tmp_path):
    pytest.importorskip("beyond.samples")
    out = tmp_path / "out"
    logs = [out / "logs" / name for name in ("tune_ae.log", "tune_ae_worker2.log")[:int(workers)]]
    console = (tmp_path / "console.txt").read_text
    with open(tmp_path / "console.txt", "w") as f:   # its own process group, as from a terminal
        proc = subprocess.Popen([sys.executable, "-m", "scripts.reproduce", "--quick", *CPU,
                                 "--data-dir", str(data_dir), "--out-dir", str(out)], cwd=ROOT,
                                stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "WORKERS": workers})
    wait_until(lambda: all(training(log) for log in logs))
    steps = re.search(r"start +tune_ae.* pid ([\d ]+\d)", console()).group(1).split()
    second = reproduce("--quick", *CPU, "--data-dir", data_dir, "--out-dir", out)
    assert one_line_error(second) and str(out) in second.stderr    # one run per folder
    kill(proc.pid, signum)
    assert proc.wait(timeout=60) == status, console()
    assert all(gone(int(pid)) for pid in steps) and "stopped tune_ae" in console()
    assert "start   refit_ae" not in console()
    assert all("interrupted" in log.read_text() for log in logs)   # each step got it
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    time.sleep(0.5)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # nothing written after
    assert not (out / "tuned_ae.json").exists()


# =============================================================================
# Plumbing: flags, --params, files and the disk, the data files, checkpoints, signals, the
# Optuna storage. What keeps the scripts safe to run; it teaches nothing of the report.
# =============================================================================

# --- Plumbing: flags and the command line ------------------------------------

BAD_FLAGS = [  # (script, flags, what its one line says)
    ("ae", ["--epochs", "-1"], "positive integer"), ("ae", ["--device", "tpu"], "invalid choice"),
    ("ae", ["--d", "1025"], "1 to 1024"), ("ae", ["--dropout", "1.5"], "in [0, 1)"),
    ("ae", ["--lr", "1e308"], "float32"), ("ae", ["--weight-decay", "1e39"], "float32"),
    ("ae", ["--no-such-flag"], "unrecognized"),
    ("vae", ["--beta", "-1"], "0 or more"), ("vae", ["--iw-samples", "0"], "positive integer"),
    ("vae", ["--d", "1000000000"], "1 to 1024"), ("vae", ["--lr", "1e39"], "float32"),
    ("vae", ["--beta", "1e39"], "float32"), ("vae", ["--no-such-flag"], "unrecognized"),
    ("classify", ["--recipe", "fast"], "invalid choice"),
    ("classify", ["--seeds", "0"], "positive integer"),
    ("labels", ["--labels", "15"], "multiples of 10"), ("labels", ["--labels", "a,b"], "multiples")]

@pytest.mark.parametrize("script, flags, says", BAD_FLAGS)
def test_bad_flags_exit_with_one_line(script, flags, says, capsys):
    with pytest.raises(SystemExit) as e:
        {"ae": ae, "vae": vae, "classify": classify, "labels": labels}[script].main(flags)
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "error" in err and "\n" not in err and says in err, err
    assert says == "unrecognized" or f"argument {flags[0]}:" in err


def test_running_out_of_memory_is_one_line_and_exit_status_1(capsys):
    for run_out in (lambda: torch.empty(2**48, dtype=torch.uint8),   # 256 TB: the CPU allocator
                    lambda: (_ for _ in ()).throw(torch.OutOfMemoryError("CUDA out of memory.")),
                    lambda: (_ for _ in ()).throw(MemoryError())):
        with pytest.raises(SystemExit) as e:
            plumbing.cli.run(run_out)
        assert str(e.value.code).startswith("error: out of memory") and "\n" not in str(e.value.code)
        assert "--batch-size" in str(e.value.code)
    with pytest.raises(RuntimeError, match="a bug"):  # any other error is shown as the bug it is
        plumbing.cli.run(lambda: (_ for _ in ()).throw(RuntimeError("a bug")))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_every_script_runs_on_a_gpu(data_dir, tmp_path):
    # CI has no GPU: this runs where a student (or benchmarks/gpu_check.sh) has one
    flags = ["--quick", "--device", "cuda", "--data-dir", data_dir, "--out-dir", tmp_path]
    for script in (["tune.py", "ae"], ["ae.py"], ["classify.py"], ["vae.py"], ["explore.py"],
                   ["beyond.samples"], ["beyond.labels"]):
        assert "on cuda" in run(*script, *flags).stdout   # only that: cuDNN's sums vary


# (the command, what its folder holds first, what its one line says)
CANNOT_GO_ON = [
    (["explore.py"], None, "python ae.py"),                                    # no ae.pt
    (["classify.py"], None, "python ae.py"),
    (["tune.py", "classifier"], None, "python ae.py"),
    (["explore.py", "--tsne-points", "20"], "ae.pt", "--tsne-points"),        # perplexity 30
    (["ae.py"], {"ae.json": '{"compare": '}, "cannot read"),                  # cut short
    (["ae.py", "--part", "refit", "--params", "OUT/tuned_ae.json"],
     {"tuned_ae.json": json.dumps({"study": "ae", "params": {**ae.TABLE_4, "dropout": 1.0}})},
     "dropout"),
    (["classify.py"], "ae.pt, optimizer Adagrad", "optimizer must be Adam or SGD"),  # edited
    (["ae.py", "--subset", "50000"], None, "--subset 50000 is more than the 48000 training images"),
    pytest.param(["ae.py", "--device", "cuda"], None, "--device cuda is not available",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here"))]


@pytest.mark.parametrize("command, holds, says", CANNOT_GO_ON)
def test_a_run_that_cannot_go_on_says_why_in_one_line_before_reading_data(
        command, holds, says, quick_ae, data_dir, tmp_path):
    if holds == "ae.pt":
        shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")
    if holds == "ae.pt, optimizer Adagrad":
        write_ae_checkpoint(tmp_path / "ae.pt", settings={"optimizer": "Adagrad"})
    for name, text in (holds if isinstance(holds, dict) else {}).items():
        (tmp_path / name).write_text(text)
    command = [str(tmp_path / c[4:]) if c.startswith("OUT/") else c for c in command]
    proc = run(*command, "--quick", "--data-dir", data_dir, "--out-dir", tmp_path, ok=False)
    assert one_line_error(proc) and says in proc.stderr, proc.stderr
    assert "data:" not in proc.stdout                          # before reading any data


SCRIPTS = {"ae.py": (ae, []), "vae.py": (vae, []), "classify.py": (classify, []),
           "explore.py": (explore, []), "tune.py": (tune, ["ae"]),
           "beyond.labels": (labels, []), "beyond.samples": (beyond.samples, [])}
# script -> (module, positional arguments)


@pytest.mark.parametrize("flags, says", [(["--subset", "1"], "at least 40"),
                                         *((["--seed", s], "2**32") for s in ("-5", "4294967296",
                                                                             str(2**64)))])
def test_every_script_refuses_a_seed_or_a_subset_out_of_range_alike(flags, says, capsys):
    for name, (module, positional) in SCRIPTS.items():
        with pytest.raises(SystemExit) as e:
            plumbing.cli.parse_args(module.build_parser(), module.QUICK, positional + flags)
        err = capsys.readouterr().err.strip()
        assert e.value.code == 2 and "\n" not in err and says in err, (name, err)


def test_inputs_too_small_for_an_algorithm_are_refused_with_what_would_work(quick_ae, data_dir,
                                                                            tmp_path):
    shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")
    proc = run("explore.py", "--quick", "--subset", "40", "--data-dir", data_dir,
               "--out-dir", tmp_path, ok=False)                  # 10 test images for t-SNE
    assert one_line_error(proc) and "raise --subset 124" in proc.stderr, proc.stderr
    plumbing.checkpoints.save_checkpoint(tmp_path / "vae.pt", {"d": 1}, vae=vae.VAE(1).state_dict())
    proc = run("explore.py", "--quick", "--data-dir", data_dir, "--out-dir", tmp_path, ok=False)
    assert one_line_error(proc) and "d >= 2" in proc.stderr, proc.stderr


@pytest.mark.parametrize("check, good, bad", [
    (plumbing.cli.positive_int, ["1", "300"], ["0", "-1", "2.5"]),
    (plumbing.cli.layer_width, ["1", "1024"], ["0", "1025", "2.5"]),
    (plumbing.cli.positive_float, ["1e-9", "0.5", "3.4e38"], ["0", "-0.1", "nan", "inf", "1e39"]),
    (plumbing.cli.non_negative_float, ["0", "1e-5", "3.4e38"], ["-1e-9", "nan", "inf", "1e39"]),
    (plumbing.cli.probability, ["0", "0.999"], ["1", "1.5", "-0.1"]),
    (plumbing.cli.seed_value, ["0", str(2**32 - 1)], ["-1", str(2**32)]),
    (plumbing.cli.subset_size, ["0", "40", "48000"], ["1", "39", "-1"]),
    (plumbing.cli.optimizer_name, ["Adam", "SGD"], ["adam", "RMSprop"]),
])
def test_each_flag_type_takes_its_range_and_refuses_its_edges(check, good, bad):
    for text in good:
        check(text)
    for text in bad:
        with pytest.raises((argparse.ArgumentTypeError, ValueError)):
            check(text)


EMPTY_PATHS = [("ae.py", "--out-dir"), ("ae.py", "--data-dir"), ("ae.py", "--params"),
               ("vae.py", "--out-dir"), ("vae.py", "--params"), ("explore.py", "--out-dir"),
               ("classify.py", "--checkpoint"), ("classify.py", "--params"),
               ("tune.py", "--storage"), ("tune.py", "--checkpoint"), ("tune.py", "--out-dir"),
               ("beyond/labels.py", "--checkpoint"), ("beyond/labels.py", "--params"),
               ("scripts.summary", "--out-dir"), ("scripts.seeds", "--out-dir")]


@pytest.mark.parametrize("script, flag", EMPTY_PATHS)
def test_an_empty_path_flag_is_refused_in_one_line(script, flag, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                  # were it taken as ".", nothing lands in ROOT
    study = ["classifier"] if script == "tune.py" else []
    proc = run(script, *study, "--quick", flag, "", ok=False) if script in DEVICE_FLAG else \
        run(script, flag, "", ok=False)
    assert proc.returncode == 2 and one_line_error(proc), proc.stderr
    assert f"argument {flag}: must be a path, got ''" in proc.stderr
    assert list(tmp_path.iterdir()) == []


# --- Plumbing: --params: files of tuned values -------------------------------

TABLES = {"ae": ae.TABLE_4, "vae": vae.TABLE_7, "classifier": classify.TABLE_5}

# (the study a file is read for, the study it was written by, its values (or a damaged file's
# text), what the error says)
TUNED_REFUSED = [
    *(("ae", "ae", text, says) for text, says in [('{"params": ', "cannot read"),
                                                  ("[1, 2]", "not a results file"),
                                                  ('{"value": 1}', "not a tuned-value file")]),
    *(("ae", "ae", params, f": {key} ") for params, key in [
        ({"d": 0}, "d"), ({"dropout": 1.0}, "dropout"), ({"lr": "0.001"}, "lr"),
        ({"lr": -0.01}, "lr"), ({"optimizer": "adam"}, "optimizer"), ({"d": 3.5}, "d"),
        ({"weight_decay": True}, "weight_decay"), ({"d": 1000000000}, "d"), ({"lr": 1e308}, "lr"),
        ({"weight_decay": 1e39}, "weight_decay")]),
    ("ae", "vae", {}, "tuned values of `tune.py vae`, not of `tune.py ae`"),
    ("classifier", "classifier", {"no1": 12.5}, "no1 must be a whole number, got 12.5"),
    ("classifier", "classifier", {"mlp_lr": "x"}, "mlp_lr must be a number, got 'x'"),
    ("classifier", "classifier", {"no2": 4096}, "no2 must be 1 to 1024")]


@pytest.mark.parametrize("study, written_by, params, says", TUNED_REFUSED)
def test_a_tuned_value_passes_the_check_of_its_flag(study, written_by, params, says, tmp_path):
    path = tmp_path / f"tuned_{written_by}.json"
    if isinstance(params, str):
        path.write_text(params)
    else:
        write_tuned(path, written_by, {**TABLES[written_by], **params})
    with pytest.raises(SystemExit) as e:
        plumbing.params.read_params(path, study, TABLES[study])
    message = str(e.value)
    assert str(path) in message and says in message and "\n" not in message
    assert "tune.py" in message                                  # what to do about it


def test_a_flag_given_as_zero_wins_over_the_table_and_the_tuned_file(tmp_path):
    path = tmp_path / "tuned_ae.json"
    path.write_text(json.dumps({"study": "ae", "params": {**ae.TABLE_4, "dropout": 0.3,
                                                          "weight_decay": 0.001}}))
    for files in ([], ["--params", str(path)]):
        args = plumbing.cli.parse_args(ae.build_parser(), ae.QUICK,
                                       files + ["--weight-decay", "0", "--dropout", "0"])
        params, source = plumbing.params.resolve_params(args, ae.TABLE_4, "ae")
        assert params["weight_decay"] == 0.0 and params["dropout"] == 0.0, params
        assert "command line ['dropout', 'weight_decay']" in source


# --- Plumbing: results files and the disk: written whole, in order, or not at all ---

@pytest.mark.parametrize("script", ["ae.py", "vae.py", "classify.py", "explore.py"])
def test_an_unwritable_output_folder_fails_before_any_training(script, data_dir, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    proc = run_with_read_only(folder, ROOT / script, "--quick", *CPU, "--data-dir", data_dir,
                              "--out-dir", folder)
    assert one_line_error(proc) and "cannot write to the output folder" in proc.stderr
    assert "data:" not in proc.stdout                         # nothing was read or trained


def test_a_diverging_comparison_keeps_the_earlier_results(quick_ae, data_dir, tmp_path):
    shutil.copytree(quick_ae, tmp_path, dirs_exist_ok=True)   # an earlier run, Figure 7 too
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    proc = run("ae.py", "--quick", "--part", "compare", "--lr", "1e30", "--epochs", "1",
               "--data-dir", data_dir, "--out-dir", tmp_path, ok=False)
    assert one_line_error(proc) and "error: Adam diverged at epoch 1 and SGD" in proc.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before   # as vae.py does


def test_two_runs_into_one_folder_keep_each_others_entry(data_dir, tmp_path, monkeypatch):
    refit = ae.refit

    def meanwhile(*args):                           # `ae.py --part compare` ends meanwhile
        result = refit(*args)
        plumbing.files.update_results(tmp_path / "ae.json", {"compare": {"written": "by the other"}})
        return result
    monkeypatch.setattr(ae, "refit", meanwhile)
    ae.main(["--quick", "--part", "refit", "--epochs", "1", *CPU, "--data-dir", str(data_dir),
             "--out-dir", str(tmp_path)])
    results = json.loads((tmp_path / "ae.json").read_text())
    assert results["compare"] == {"written": "by the other"} and "val_mse" in results["refit"]


def test_a_results_entry_names_the_checkpoint_it_describes(quick_ae, tmp_path):
    shutil.copytree(quick_ae, tmp_path, dirs_exist_ok=True)
    refit = json.loads((tmp_path / "ae.json").read_text())["refit"]
    assert refit["checkpoint"] == plumbing.files.fingerprint(tmp_path / "ae.pt")
    run("scripts.summary", "--out-dir", tmp_path)
    assert "Mismatch" not in (tmp_path / "summary.md").read_text()
    # a run stopped between its two writes: a new ae.pt, the old entry
    plumbing.checkpoints.save_checkpoint(tmp_path / "ae.pt", {"d": 2}, encoder=common.Encoder(2, 0).state_dict())
    run("scripts.summary", "--out-dir", tmp_path)
    assert "**Mismatch:** these numbers describe another ae.pt" in (tmp_path / "summary.md").read_text()


FAILED_WRITES = [  # (which writer, what raises half-way through its write, what the line says)
    *((writer, OSError(errno.ENOSPC, "No space left on device"), "no space left on device")
      for writer in ("json", "text", "figure", "checkpoint")),
    ("checkpoint", RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 "
                                "vs 534"), "RuntimeError"),
    ("figure", ValueError("Image size of 100000x100 pixels is too large"), "ValueError"),
    ("json", MemoryError(), "MemoryError"), ("json", KeyboardInterrupt(), None),
    ("json", SystemExit(), None)]


@pytest.mark.parametrize("writer, error, says", FAILED_WRITES)
def test_a_failed_write_is_one_line_and_leaves_the_earlier_file_whole(writer, error, says,
                                                                      tmp_path, monkeypatch):
    """Whatever fails half-way through a write (a full disk: torch says so as a RuntimeError)
    is one line naming the file, with the space left on its disk where the error does not
    say it; the earlier file stays whole; Ctrl-C and SystemExit pass through as they came."""
    path = tmp_path / f"earlier.{writer}"
    path.write_bytes(b"the earlier file")

    def fails(path, write):                # every write goes half through, then fails
        def half(tmp):
            Path(tmp).write_bytes(b"half a file")
            raise error
        return write_atomically(path, half)
    write_atomically = plumbing.files.write_atomically
    monkeypatch.setattr(plumbing.files, "write_atomically", fails)
    write = {"json": lambda: plumbing.files.save_json(path, {"a": 1}),
             "text": lambda: plumbing.files.save_text(path, "# a table\n"),
             "figure": lambda: plumbing.figures.save_figure(plumbing.figures.pyplot().figure(),
                                                            path),
             "checkpoint": lambda: plumbing.checkpoints.save_checkpoint(
                 path, {}, w={"x": torch.zeros(1)})}
    with pytest.raises((SystemExit, KeyboardInterrupt)) as e:
        write[writer]()
    if says is None:
        assert e.value is error                              # passed through as it came
    else:
        message = str(e.value)
        assert message.startswith(f"error: cannot write {path} (") and "\n" not in message
        assert says in message
        assert isinstance(error, OSError) or "free on its disk" in message
    assert path.read_bytes() == b"the earlier file" and sorted(tmp_path.iterdir()) == [path]


def test_summary_in_a_read_only_folder_is_one_line(quick_ae, tmp_path):
    folder = tmp_path / "ro"
    shutil.copytree(quick_ae, folder)
    proc = run_with_read_only(folder, "-m", "scripts.summary", "--out-dir", folder)
    assert one_line_error(proc) and "summary.md" in proc.stderr and "read-only" in proc.stderr


def storage_full(monkeypatch, after=1):
    """The Optuna storage's disk fills up after `after` intermediate values: SQLite's error,
    wrapped by SQLAlchemy and by Optuna, as on a real full disk."""
    import sqlalchemy
    calls, write = [], optuna.storages.RDBStorage.set_trial_intermediate_value

    def full(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > after:
            try:
                raise sqlalchemy.exc.OperationalError("UPDATE", {}, Exception("database or disk is full"))
            except sqlalchemy.exc.OperationalError as e:
                raise optuna.exceptions.StorageInternalError(
                    "An exception is raised during the commit. This typically happens due to "
                    "invalid data in the commit, e.g. exceeding max length.") from e
        return write(self, *args, **kwargs)
    monkeypatch.setattr(optuna.storages.RDBStorage, "set_trial_intermediate_value", full)


def test_a_full_disk_while_tuning_is_one_line_and_the_rerun_fails_the_trial_it_cut(
        data_dir, tmp_path, monkeypatch):
    argv = ["ae", *TINY, "--epochs", "2", "--trials", "2", "--data-dir", str(data_dir),
            "--out-dir", str(tmp_path)]
    storage_full(monkeypatch, after=1)            # trial 0's second epoch cannot be stored
    with pytest.raises(SystemExit) as e:
        tune.main(argv)
    message = str(e.value)
    assert "\n" not in message and "is full" in message and "optuna.db" in message
    assert not (tmp_path / "tuned_ae.json").exists()


def test_a_full_disk_under_tune_py_is_one_line_in_a_real_process(data_dir, tmp_path):
    """tune.py with its storage on a 140 KiB tmpfs: the disk fills up while trials run (or,
    with another SQLite, already as the study is made); one line either way."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux)")
    disk = tmp_path / "disk"
    disk.mkdir()
    shell = (f"mount -t tmpfs -o size=140k tmpfs {disk} && exec {sys.executable} tune.py ae "
             f"--quick --trials 40 --epochs 2 --subset 400 --device cpu --data-dir {data_dir} "
             f"--out-dir {tmp_path / 'out'} --storage sqlite:///{disk}/optuna.db")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", shell], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    if "mount" in proc.stderr and "permission denied" in proc.stderr.lower():
        pytest.skip("this machine does not allow a private mount")
    assert one_line_error(proc), proc.stderr[-2000:]
    assert "is full" in proc.stderr


# (a script, its flags, files it writes in this order: a checkpoint before the results that
# describe it, "refit" being ae.json's entry that describes ae.pt; results before a figure)
WRITE_ORDERS = [
    (tune, ["ae", *TINY, "--trials", "1"], ["tuned_ae.json", "fig08_tuning_ae.png"]),
    (labels, ["--quick", "--labels", "100", "--epochs", "1", *CPU],
     ["labels.json", "labels.md", "fig_label_efficiency.png"]),
    (ae, QUICK, ["ae.pt", "refit"]),
    (vae, [*QUICK, "--iw-samples", "2"], ["vae.pt", "vae.json"])]


@pytest.mark.parametrize("script, flags, order", WRITE_ORDERS, ids=["tune", "labels", "ae", "vae"])
def test_each_file_is_written_after_the_files_it_describes(script, flags, order, quick_ae,
                                                           data_dir, tmp_path, monkeypatch):
    shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")        # beyond/labels.py's encoder
    written, write = [], plumbing.files.write_atomically

    def spy(path, fn):
        write(path, fn)
        path = Path(path)
        refit = path.name == "ae.json" and "refit" in json.loads(path.read_text())
        written.append("refit" if refit else path.name)
    monkeypatch.setattr(plumbing.files, "write_atomically", spy)
    for module, plot in ((ae, "plot_compare"), (ae, "plot_refit"), (vae, "plot_figures")):
        monkeypatch.setattr(module, plot, lambda *args: None)
    script.main([*flags, "--data-dir", str(data_dir), "--out-dir", str(tmp_path)])
    assert set(order) <= set(written) and sorted(order, key=written.index) == order, written


def test_two_writers_updating_one_results_file_at_once_keep_both_entries(tmp_path, monkeypatch):
    """Each writer reads the file, then waits, as if its write were slow: without the lock,
    both read the old file and the second write drops the first one's entry. Each entry
    replaces its old one; the file's other entries stay."""
    read = plumbing.files.read_json

    def slow_read(path, fix):
        data = read(path, fix)
        time.sleep(0.3)
        return data
    monkeypatch.setattr(plumbing.files, "read_json", slow_read)
    path = tmp_path / "ae.json"
    path.write_text(json.dumps({"refit": {"old": 1}, "other": {"kept": 2}}))
    writers = [threading.Thread(target=plumbing.files.update_results, args=(path, {part: {"n": i}}))
               for i, part in enumerate(["compare", "refit"])]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert json.loads(path.read_text()) == {"refit": {"n": 1}, "other": {"kept": 2},
                                            "compare": {"n": 0}}
    assert (tmp_path / "ae.json.lock").exists()


def test_a_killed_writer_releases_its_lock_on_the_results_file(tmp_path):
    path = tmp_path / "ae.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; import plumbing.files\n"
         f"with plumbing.files.locked(Path({str(path)!r})):\n"
         "    print('locked', flush=True); time.sleep(600)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    writer = threading.Thread(target=plumbing.files.update_results, args=(path, {"refit": {}}))
    writer.start()
    writer.join(timeout=1)
    assert writer.is_alive()                       # waits while the other process holds it
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    writer.join(timeout=10)
    assert not writer.is_alive() and json.loads(path.read_text()) == {"refit": {}}


# --- Plumbing: the data files ------------------------------------------------

def write_idx(path, array, gz=False):
    """Write a uint8 array in the IDX format of Fashion-MNIST."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    data = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)


def synthetic_fashion_mnist(folder, n_train=50, n_test=20, gz=False):
    """Small random IDX files named as Fashion-MNIST's; returns the training arrays."""
    rng = np.random.default_rng(0)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28))
        labels = rng.integers(0, 10, n)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
        arrays[prefix] = images, labels
    return arrays


def test_data_is_read_from_a_folder_of_idx_files(tmp_path):
    arrays = synthetic_fashion_mnist(tmp_path / "FashionMNIST" / "raw", n_train=50)
    (x_train, y_train), (x_val, y_val) = common.load_train_val(tmp_path, "cpu", subset=40)
    assert x_train.shape == (40, 1, 28, 28) and x_val.shape == (10, 1, 28, 28)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    images, labels = arrays["train"]
    train_idx, _ = common.split_indices(50, 10)
    assert torch.allclose(x_train[:, 0], torch.tensor(images[train_idx.numpy()] / 255).float())
    assert torch.equal(y_train, torch.tensor(labels[train_idx.numpy()]))
    x_test, y_test = common.load_test(tmp_path, "cpu", subset=80)
    assert x_test.shape == (20, 1, 28, 28) and len(y_test) == 20


def test_processes_started_together_on_a_fresh_folder_each_get_the_whole_files(tmp_path):
    # Debian's .gz files decompressed into the raw folder by three steps of a report started
    # side by side, each finding the data folder empty
    debian = tmp_path / "debian"
    synthetic_fashion_mnist(debian, n_train=8000, gz=True)   # big enough for the copies to overlap
    go = tmp_path / "go"
    code = ("import sys, time; from pathlib import Path; import plumbing.data\n"
            "plumbing.data.DEBIAN_DIR = Path(sys.argv[1])\n"
            "print('ready', flush=True)\n"
            "while not Path(sys.argv[2]).exists(): time.sleep(0.001)\n"
            "plumbing.data.find_data(sys.argv[3])")
    data = tmp_path / "data"
    procs = [subprocess.Popen([sys.executable, "-c", code, debian, go, data], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    assert all(p.stdout.readline() == "ready\n" for p in procs)  # all at the start line
    go.touch()
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    raw = data / "FashionMNIST" / "raw"
    for name in plumbing.data.RAW_FILES:
        assert (raw / name).read_bytes() == gzip.decompress((debian / f"{name}.gz").read_bytes())
    assert sorted(f.name for f in raw.iterdir()) == sorted(plumbing.data.RAW_FILES)  # no .tmp


def test_missing_data_names_the_three_ways_to_get_it(tmp_path, monkeypatch):
    from torchvision.datasets import FashionMNIST
    monkeypatch.setattr(plumbing.data, "DEBIAN_DIR", tmp_path / "no-such-folder")
    monkeypatch.setattr(FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])  # refuses at once
    with pytest.raises(SystemExit) as e:
        common.load_train_val(tmp_path / "empty", "cpu")
    message = str(e.value)
    assert "FashionMNIST/raw" in message and "--data-dir" in message
    assert "apt-get install dataset-fashion-mnist" in message and "internet" in message


@pytest.mark.parametrize("damage", ["truncate", "magic", "a gz of garbage"])
def test_a_corrupt_data_file_is_named_in_the_error(tmp_path, damage, monkeypatch):
    raw, debian = tmp_path / "FashionMNIST" / "raw", tmp_path / "debian"
    if damage == "a gz of garbage":          # Debian's gz: valid gzip, wrong contents
        synthetic_fashion_mnist(debian, gz=True)
        bad = debian / "train-images-idx3-ubyte.gz"
        bad.write_bytes(gzip.compress(b"not an IDX file at all"))
        monkeypatch.setattr(plumbing.data, "DEBIAN_DIR", debian)
    else:
        synthetic_fashion_mnist(raw)
        bad = raw / "train-images-idx3-ubyte"
        data = bad.read_bytes()
        bad.write_bytes(data[:-100] if damage == "truncate" else b"\x00\x00\x09\x03" + data[4:])
    for _ in range(2):                        # and again: the same error, not a new one
        with pytest.raises(SystemExit) as e:
            common.load_train_val(tmp_path, "cpu")
        says = "apt-get install --reinstall" if damage == "a gz of garbage" else "corrupt"
        assert str(bad) in str(e.value) and says in str(e.value) and "\n" not in str(e.value)


def test_an_unset_data_folder_variable_means_the_default_folder(monkeypatch):
    monkeypatch.setenv(plumbing.data.DATA_ENV, "")
    assert ae.build_parser().parse_args([]).data_dir == "data"


@pytest.mark.parametrize("n_train, n_test, named", [(60_000, 9_999, "t10k-images-idx3-ubyte"),
                                                    (59_999, 10_000, "train-images-idx3-ubyte")])
def test_a_data_set_cut_short_is_refused_without_a_subset(n_train, n_test, named, tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    synthetic_fashion_mnist(raw, n_train, n_test)                # consistent headers, cut short
    load = common.load_test if named.startswith("t10k") else common.load_train_val
    with pytest.raises(SystemExit) as e:
        load(tmp_path, "cpu")
    assert str(raw / named) in str(e.value) and "not Fashion-MNIST's" in str(e.value)
    assert "--subset" in str(e.value) and "\n" not in str(e.value)
    load(tmp_path, "cpu", 400)                             # a part of it is fine
    whole = common.load_train_val if load is common.load_test else common.load_test
    whole(tmp_path, "cpu")                                 # and so is the set of full size


# --- Plumbing: checkpoints ---------------------------------------------------

def test_checkpoint_round_trip(tmp_path):
    encoder, decoder = common.Encoder(6, 0.1), common.Decoder(6, 0.1)
    path = tmp_path / "ae.pt"
    plumbing.checkpoints.save_checkpoint(path, {"d": 6, "dropout": 0.1}, encoder=encoder.state_dict(),
                           decoder=decoder.state_dict())
    assert [p.name for p in tmp_path.iterdir()] == ["ae.pt"]  # no temporary file left
    ckpt = plumbing.checkpoints.load_checkpoint(path, "python ae.py")
    assert ckpt["settings"] == {"d": 6, "dropout": 0.1}
    again = plumbing.checkpoints.load_weights(common.Encoder(6, 0.1), ckpt, "encoder", path, "python ae.py")
    for a, b in zip(encoder.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    torch.load(path, weights_only=True)  # only tensors and plain settings inside


class Payload:
    """An arbitrary object: a checkpoint that holds one could run code when loaded."""


def test_a_missing_unreadable_or_unsafe_checkpoint_names_the_command(tmp_path):
    path = tmp_path / "ae.pt"
    unsafe = {"settings": {"d": 2}, "encoder": {}, "payload": Payload()}
    for holds, says in ((None, "not found"), (b"not a checkpoint", "cannot read"),
                        (unsafe, "cannot read")):
        if isinstance(holds, bytes):
            path.write_bytes(holds)
        elif holds is not None:
            torch.save(holds, path)
        with pytest.raises(SystemExit) as e:
            plumbing.checkpoints.load_checkpoint(path, "python ae.py")
        assert says in str(e.value) and "python ae.py" in str(e.value), holds
        assert str(path) in str(e.value)                        # which file
    with pytest.raises(SystemExit) as e:                       # a name ae.py does not write
        plumbing.checkpoints.load_checkpoint(tmp_path / "mine.pt", "python ae.py")
    assert f"writes {tmp_path / 'ae.pt'}" in str(e.value)
    with pytest.raises(SystemExit) as e:                       # --quick's folder: say --quick
        plumbing.checkpoints.load_checkpoint("outputs/quick/no_such.pt", "python ae.py")
    assert "`python ae.py --quick` writes outputs/quick/ae.pt" in str(e.value)


def test_the_other_models_checkpoint_is_named_for_what_it_is(tmp_path, quick_ae):
    plumbing.checkpoints.save_checkpoint(tmp_path / "ae.pt", {"d": 2}, vae=vae.VAE(2).state_dict())
    with pytest.raises(SystemExit) as e:
        explore.load_models(tmp_path, torch.device("cpu"))
    message = str(e.value)
    assert "is the VAE's (vae.py), not the autoencoder's" in message
    assert f"python ae.py --out-dir {tmp_path}" in message and "\n" not in message
    shutil.copy(quick_ae / "ae.pt", tmp_path / "ae.pt")
    plumbing.checkpoints.save_checkpoint(tmp_path / "vae.pt", {"d": 2},
                           encoder=common.Encoder(2, 0).state_dict(),
                           decoder=common.Decoder(2).state_dict())
    with pytest.raises(SystemExit) as e:
        explore.load_models(tmp_path, torch.device("cpu"))
    assert "is the autoencoder's (ae.py), not the VAE's" in str(e.value)
    assert f"python vae.py --out-dir {tmp_path}" in str(e.value)


@pytest.mark.parametrize("model, drop, add", [
    ("ae", "encoder", None), ("ae", None, "encoder"), ("ae", "decoder", None),
    ("ae", None, "decoder"), ("vae", True, False), ("vae", False, True)])
def test_a_checkpoint_missing_a_weight_or_with_one_more_is_refused(model, drop, add, data_dir,
                                                                   tmp_path):
    path = tmp_path / f"{model}.pt"
    readers = {"explore": lambda: explore.load_models(tmp_path, torch.device("cpu"))}
    if model == "ae":
        write_ae_checkpoint(path, drop, add)
        readers["load_ae"] = lambda: ae.load_ae(path)
        readers["classify"] = lambda: classify.main([*QUICK, "--checkpoint", str(path),
                                                     "--data-dir", str(data_dir),
                                                     "--out-dir", str(tmp_path)])
    else:
        write_ae_checkpoint(tmp_path / "ae.pt")
        write_vae_checkpoint(path, drop=drop, add=add)
    for name, read in readers.items():
        with pytest.raises(SystemExit) as e:
            read()
        message = str(e.value)
        assert message.startswith("error: ") and "\n" not in message, name
        assert str(path) in message and f"python {model}.py" in message, name
        assert "does not match" in message, name
    assert not (tmp_path / "classify.json").exists()


# --- Plumbing: signals: Ctrl-C and SIGTERM -----------------------------------

@pytest.mark.parametrize("command, trains, signal_name, status", [
    (["ae.py", "--part", "refit"], "refit epoch", "SIGINT", 130),
    (["tune.py", "ae", "--subset", "300"], "trial 0 epoch", "SIGINT", 130),
    (["vae.py"], "VAE epoch", "SIGTERM", 143)])
def test_a_signal_while_training_is_one_line_and_writes_nothing_half(command, trains,
                                                                     signal_name, status,
                                                                     data_dir, tmp_path):
    """A real process, stopped while it trains: Ctrl-C exits 130, SIGTERM 143, as a shell
    says; a study's cut trial is failed; a script writes nothing."""
    proc = subprocess.Popen([sys.executable, "-u", *command, "--quick", "--epochs", "1000",
                             *CPU, "--data-dir", str(data_dir), "--out-dir", str(tmp_path)],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stdout:                                   # wait until it trains
        if line.startswith(trains):
            break
    proc.send_signal(getattr(signal, signal_name))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status and err.strip() == "interrupted; nothing half-written"
    if command[0] == "tune.py":
        assert [t.state for t in load(tmp_path, "ae-quick").trials] == [TrialState.FAIL]
    else:
        assert list(tmp_path.iterdir()) == []


STARTS = [["ae.py"], ["vae.py"], ["classify.py"], ["explore.py"], ["tune.py", "ae"],
          ["-m", "beyond.labels"]]


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", STARTS, ids=lambda c: c[-1] if c[0] != "-m" else c[1])
def test_a_signal_while_torch_loads_writes_nothing(command, signal_name, tmp_path):
    """A real process, stopped while it is still importing torch (about 2 s), before main()
    has printed its settings: Python's own exit for that signal, and nothing written."""
    if signal_name == "SIGINT" and torch.__version__ < (2, 14):
        pytest.skip("torch 2.4.1's C extension imports numpy as it loads and clears any error "
                    "there, so a Ctrl-C then is lost; 2.14.1 does not (versions between not tried)")
    proc = subprocess.Popen([sys.executable, *command, "--out-dir", str(tmp_path / "out")],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.2)                          # Python is up; torch is still loading
    signum = getattr(signal, signal_name)
    for _ in range(50):  # again every 0.1 s, as a user presses Ctrl-C again: CPython ignores
        proc.send_signal(signum)  # one that lands in an import lock's callback ("Exception
        try:                      # ignored in ... _get_module_lock")
            proc.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            pass
    proc.kill()                              # a script that went on is not left running
    out, err = proc.communicate()
    assert proc.returncode == -signum, err   # killed by the signal: no handler of ours yet
    assert out == ""                         # main() never started
    assert not (tmp_path / "out").exists()


# --- Plumbing: the Optuna storage: resuming, several workers, a study's kind ---

def test_rerun_resumes_and_keeps_earlier_trials(data_dir, tmp_path):
    argv = ["ae", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path)]
    tune.main(argv + ["--trials", "1"])
    first = load(tmp_path, "ae-quick").trials[0]
    tune.main(argv + ["--trials", "2"])
    tune.main(argv + ["--trials", "2"])              # already there: nothing is redone
    trials = load(tmp_path, "ae-quick").trials
    assert len(trials) == 2
    assert trials[0].params == first.params and trials[0].value == first.value
    # the same study with other epochs would mix incomparable values: refused
    with pytest.raises(SystemExit) as e:
        tune.main(argv + ["--trials", "3", "--epochs", "2"])
    assert "was run with" in str(e.value) and "--study-name" in str(e.value)


BAD_STORAGES = [  # (--storage, what its one line says)
    ("nosuchdb://x", "nosuchdb://x"),
    ("postgresql://me:secret@127.0.0.1:9/none", "postgresql://me:***@127.0.0.1:9/none"),  # no db
    *((url, "cannot open the storage ") for url in ["postgresql://me:secret@[::1", "not a url",
                                                     "postgresql://me:secret@db:x/optuna"]),
    # in memory: workers cannot share it, and its trials would be lost as the run ends
    *((url, "in-memory") for url in ["sqlite:///", "sqlite://", "sqlite:///:memory:"])]


@pytest.mark.parametrize("storage, says", BAD_STORAGES)
def test_a_bad_storage_is_one_line_before_any_trial(storage, says, tmp_path):
    with pytest.raises(SystemExit) as e:
        tune.main(["ae", "--quick", "--storage", storage, "--out-dir", str(tmp_path)])
    message = str(e.value)
    assert message.startswith("error:") and says in message and "\n" not in message
    assert "secret" not in message and not (tmp_path / "tuned_ae.json").exists()


@pytest.mark.parametrize("name", ["a?b", "a%41b", "a#b"])
def test_an_out_dir_with_url_characters_keeps_its_own_database(name, data_dir, tmp_path):
    out = tmp_path / name
    tune.main(["ae", *TINY, "--trials", "1", "--data-dir", str(data_dir), "--out-dir", str(out)])
    assert (out / "optuna.db").exists() and list(tmp_path.iterdir()) == [out]
    assert json.loads((out / "tuned_ae.json").read_text())["storage"].endswith("/optuna.db")


def test_a_study_of_another_kind_is_refused_its_kind_told_by_its_parameters(data_dir, tmp_path):
    # an AE study as tune.py wrote it before studies recorded their kind: no user attributes
    study = optuna.create_study(study_name="ae-quick", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    drawn = optuna.create_study().ask()
    tune.suggest_ae(drawn)
    study.add_trial(optuna.trial.create_trial(params=ae.TABLE_4, value=0.1,
                                              distributions=drawn.distributions))
    argv = [*TINY, "--trials", "2", "--data-dir", str(data_dir), "--out-dir", str(tmp_path)]
    with pytest.raises(SystemExit, match="holds trials of tune.py ae, not of tune.py vae"):
        tune.main(["vae", *argv, "--study-name", "ae-quick"])
    assert not (tmp_path / "tuned_vae.json").exists()
    assert load(tmp_path, "ae-quick").user_attrs.get("study") != "vae"   # not stamped vae
    tune.main(["ae", *argv])                                            # its own study goes on
    assert len(load(tmp_path, "ae-quick").trials) == 2
    tune.main(["vae", *argv])                                           # and the other way
    with pytest.raises(SystemExit, match="holds trials of tune.py vae, not of tune.py ae"):
        tune.main(["ae", *argv, "--study-name", "vae-quick"])


def test_a_read_only_storage_is_said_to_be_read_only(data_dir, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    optuna.create_study(study_name="ae-quick", storage=f"sqlite:///{folder / 'optuna.db'}")
    proc = run_with_read_only(folder, ROOT / "tune.py", "ae", "--quick", *CPU, "--data-dir",
                              data_dir, "--out-dir", tmp_path,
                              "--storage", f"sqlite:///{folder / 'optuna.db'}")
    assert one_line_error(proc) and "is read-only" in proc.stderr, proc.stderr


def test_killed_workers_trials_are_failed_as_the_study_is_opened_and_every_trial_is_counted(
        data_dir, tmp_path, monkeypatch):
    """A worker killed in a trial (kill -9) leaves it RUNNING, its heartbeats stopped: the next
    run fails it as it opens the study, also a complete study that runs no trial; a worker
    still at it stays RUNNING; the tuned file counts every trial by its state."""
    monkeypatch.setattr(plumbing.storage, "GRACE_SECONDS", 1)
    argv = ["ae", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path)]
    tune.main(argv + ["--trials", "1"])                    # complete: one trial
    storage = plumbing.storage.open_storage(f"sqlite:///{tmp_path / 'optuna.db'}", "")
    study = optuna.load_study(study_name="ae-quick", storage=storage)
    for _ in range(2):                                     # two workers killed in a trial
        storage.record_heartbeat(study.ask()._trial_id)
    time.sleep(2.5)                        # past the grace period (SQLite: whole seconds)
    storage.record_heartbeat(study.ask()._trial_id)        # a worker still at it
    tune.main(argv + ["--trials", "1"])                    # complete: runs no trial
    C, F, R = TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING
    assert [t.state for t in load(tmp_path, "ae-quick").trials] == [C, F, F, R]
    counts = json.loads((tmp_path / "tuned_ae.json").read_text())["trials"]
    assert counts == {"complete": 1, "pruned": 0, "failed": 2, "running": 1, "waiting": 0}
    time.sleep(2.5)                                        # the last worker is killed too
    tune.main(argv + ["--trials", "2"])                    # the same command: one more trial
    assert [t.state for t in load(tmp_path, "ae-quick").trials] == [C, F, F, F, C]
    counts = json.loads((tmp_path / "tuned_ae.json").read_text())["trials"]
    assert counts == {"complete": 2, "pruned": 0, "failed": 3, "running": 0, "waiting": 0}
    tune.main(argv + ["--trials", "2"])                    # complete: runs no trial
    assert len(load(tmp_path, "ae-quick").trials) == 5


# --- Plumbing: how the files import each other -------------------------------

def test_no_lesson_imports_beyond_or_scripts_and_plumbing_imports_no_lesson():
    """Imports run one way: lessons -> common, plumbing; beyond/, scripts/ -> lessons."""
    lessons = {"ae", "vae", "classify", "explore", "tune", "common"}
    def imported(path):
        tree = ast.parse(path.read_text())
        return {(n.module if isinstance(n, ast.ImportFrom) else a.name).split(".")[0]
                for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [n])}
    for lesson in lessons:
        assert not imported(ROOT / f"{lesson}.py") & {"beyond", "scripts"}, lesson
    for module in (ROOT / "plumbing").glob("*.py"):
        assert not imported(module) & lessons, module.name


# =============================================================================
# Shared helpers: the script runner, the spies, the read-only mount, the fixtures. What the
# tests above lean on; a student may skip it. pytest finds fixtures anywhere in the module,
# and a test looks its helpers up when it runs.
# =============================================================================

ROOT = Path(__file__).resolve().parent


DEVICE_FLAG = {"ae.py", "vae.py", "classify.py", "explore.py", "tune.py", "beyond.labels",
               "beyond.samples"}


def run(script, *args, ok=True):
    """`python SCRIPT ARGS...` (`python -m MODULE ARGS...` for "beyond.samples") as __main__,
    in this process to spare the 2 s of starting Python and torch: its exit status, stdout and
    stderr (a SystemExit's message or a traceback in it, as the interpreter puts them). On the
    CPU unless a --device is named, so that it holds on a machine with a GPU too."""
    if script in DEVICE_FLAG and "--device" not in args:
        args = (*args, *CPU)
    module = not script.endswith(".py")
    path = ROOT / (script.replace(".", "/") + ".py" if module else script)
    out, err = io.StringIO(), io.StringIO()
    argv, sys_path = sys.argv, list(sys.path)
    sys.argv, sys.path[:0] = [str(path), *map(str, args)], [str(ROOT if module else path.parent)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                if module:
                    runpy.run_module(script, run_name="__main__", alter_sys=True)
                else:
                    runpy.run_path(str(path), run_name="__main__")
                code = 0
            except SystemExit as e:         # sys.exit(2), or SystemExit("error: ..."), printed
                code = e.code or 0 if e.code is None or isinstance(e.code, int) else 1
                if code == 1 and not isinstance(e.code, int):
                    print(e.code, file=sys.stderr)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.argv, sys.path[:] = argv, sys_path
    proc = subprocess.CompletedProcess([script, *args], code, out.getvalue(), err.getvalue())
    if ok:
        assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def one_line_error(proc):
    """A clean failure: non-zero exit, one line on stderr, no traceback."""
    err = proc.stderr.strip()
    return proc.returncode != 0 and "\n" not in err and "Traceback" not in err and "error" in err


@pytest.fixture(scope="session")
def data_dir():
    """The real Fashion-MNIST in ./data (decompressed from Debian's package if needed)."""
    return plumbing.data.find_data(ROOT / "data")


@pytest.fixture(scope="session")
def quick_ae(data_dir, tmp_path_factory):
    """A folder holding what `ae.py --quick` writes, ae.pt included."""
    out = tmp_path_factory.mktemp("ae_quick")
    run("ae.py", "--quick", "--data-dir", data_dir, "--out-dir", out)
    return out


def random_spd(d, generator):
    """A random symmetric positive definite (d, d) matrix, far from diagonal, float64."""
    A = torch.randn(d, d, generator=generator, dtype=torch.float64)
    return A @ A.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def load(out, name):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'optuna.db'}")


def run_with_read_only(folder, *command):
    """Run `python COMMAND...` with `folder` read-only. As root, chmod does not stop writes;
    a read-only bind mount does, and unshare -m keeps the mount private to this command."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux)")
    shell = (f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
             f"exec {sys.executable} " + " ".join(map(str, command)))
    proc = subprocess.run(["unshare", "-m", "sh", "-c", shell], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    if "mount" in proc.stderr and "permission denied" in proc.stderr.lower():
        pytest.skip("this machine does not allow a private mount")
    return proc


def write_seed_folder(folder, seed, ae_mse=0.012, knn=(0.80, 0.82, 0.80), smooth=(0.14, 0.15),
                      accuracy=0.89, d=185, extra_runs=(), pca=(0.0045, 0.0104), vae_d=44,
                      bounds=None, knn_2d=(0.5, 0.8, 0.5, 0.8),
                      samples=((100.0, 0.22), (10.0, 0.52), (70.0, 0.28))):
    """The five JSON files of one seed run, holding only what seeds.py reads.
    knn = (raw pixels, AE latent, VAE latent); knn_2d = (AE PCA, AE t-SNE, VAE PCA, VAE t-SNE);
    smooth = (AE, VAE); pca = the AE's baseline (d components, 64 components when d > 64);
    bounds = the VAE's (-ELBO, IW bound), by default 250 + seed and 246 + seed; extra_runs: the
    seeds of other classifier runs, this seed's run in their middle;
    samples = (Frechet distance, share >= 0.9) of the AE's box, the AE's mixture, the VAE."""
    refit = {"params": {"d": d}, "val_mse": [0.5, ae_mse], "pca_val_mse": pca[0]}
    if d > 64:
        refit["pca_bottleneck_val_mse"] = pca[1]
    neg_elbo, iw_bound = bounds or (250.0 + seed, 246.0 + seed)
    runs = [{"seed": s, "accuracy": 0.5} for s in extra_runs]
    runs.insert(len(runs) // 2, {"seed": seed, "accuracy": accuracy})
    raw, ae_latent, vae_latent = knn
    ae_pca, ae_tsne, vae_pca, vae_tsne = knn_2d
    write_results(
        folder, ae={"refit": refit},
        vae={"params": {"d": vae_d}, "test": {"neg_elbo": neg_elbo, "iw_log_px": -iw_bound}},
        classify={"table6": {"table5": {"runs": runs}}},
        explore={"knn": {"raw pixels": raw,
                         "AE": {"latent": ae_latent, "PCA 2-D": ae_pca, explore.TSNE_KNN: ae_tsne},
                         "VAE": {"latent": vae_latent, "PCA 2-D": vae_pca,
                                 explore.TSNE_KNN: vae_tsne}},
                 "smoothness": {"AE": {"mean": smooth[0]}, "VAE": {"mean": smooth[1]}}},
        samples={"rows": {row: {"fd": fd, "confident_share": share}
                          for row, (fd, share) in zip(("ae_box", "ae_mixture", "vae_prior"),
                                                      samples)}})


def make_out(tmp_path, per_config):
    """OUT/seeds/CONFIG/seedS/ for per_config = {config: [kwargs of seed 0, seed 1, ...]}."""
    out = tmp_path / "out"
    for config, seeds in per_config.items():
        for seed, kwargs in enumerate(seeds):
            write_seed_folder(out / "seeds" / config / f"seed{seed}", seed, **kwargs)
    return out


def reproduce(*args):
    return run("scripts.reproduce", *args, ok=False)


def generator(seed):
    return torch.Generator().manual_seed(seed)


def reference_batches(n, batch_size, seed):
    """The batch order of every train_epoch: slices of a seeded permutation."""
    return torch.randperm(n, generator=generator(seed)).split(batch_size)


def flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()]).clone()


def assert_same_update(before, code, reference):
    """The parameters' change in the code's steps equals the reference steps' change, to
    rounding (a scale relative to the largest change, so that a step of the wrong size,
    direction or loss fails)."""
    got, expected = flat(code) - before, flat(reference) - before
    assert expected.abs().max() > 0                                  # the steps moved something
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def cross_entropy(logits, y):
    # -log softmax(logits)[label], averaged over the batch
    return -logits.log_softmax(1).gather(1, y[:, None]).mean()


# The training steps' data: 12 images in batches of 8, two batches of 8 and 4 images, so that
# the mean over the epoch (weighted by batch size) differs from the mean of the two batch
# losses. SGD, not Adam, for the AE, the VAE and the classifier: its step is proportional to
# the gradient, so a loss of the wrong scale (a sum for a mean, a beta ignored) moves it.
N, BATCH = 12, 8


def spy(monkeypatch, module, name, calls):
    """Replace module.name by a wrapper that appends (args, kwargs) to calls[name]."""
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        calls.setdefault(name, []).append((args, kwargs))
        return original(*args, **kwargs)
    monkeypatch.setattr(module, name, wrapped)


def spied_run(main, argv, spied, tiny_ae, data_dir, out):
    """main(argv) on tiny_ae's ae.pt, into out, with each (module, name) of `spied` spied on:
    {"calls": {name: [(args, kwargs), ...]}, "out", and the splits, "x_train" to "y_test"}."""
    (out / "ae.pt").write_bytes((tiny_ae / "ae.pt").read_bytes())
    calls = {}
    with pytest.MonkeyPatch.context() as mp:
        for module, name in spied:
            spy(mp, module, name, calls)
        main([*argv, "--data-dir", str(data_dir), "--out-dir", str(out)])
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits(data_dir)
    return {"calls": calls, "out": out, "x_train": x_train, "y_train": y_train,
            "x_val": x_val, "y_val": y_val, "x_test": x_test, "y_test": y_test}


def splits(data_dir, subset=SUBSET):
    """((x_train, y_train), (x_val, y_val), (x_test, y_test)) read again, on the CPU."""
    return (*common.load_train_val(data_dir, "cpu", subset),
            common.load_test(data_dir, "cpu", subset))


@pytest.fixture(scope="module")
def tiny_ae(tmp_path_factory):
    """A folder holding an ae.pt of random weights (d = 3): what explore.py, labels.py and
    tune.py classifier read, written in a moment instead of trained."""
    out = tmp_path_factory.mktemp("tiny_ae")
    write_ae_checkpoint(out / "ae.pt", settings={"d": 3, "dropout": 0.1, "optimizer": "Adam",
                                                 "lr": 0.001, "weight_decay": 0.0, "epochs": 0})
    return out


def codes_of(folder, x):
    """The AE's codes of x (N, d), computed here from ae.pt: encoder in eval mode."""
    _, encoder, _ = ae.load_ae(folder / "ae.pt")
    with torch.no_grad():
        return encoder.eval()(x)


# The autoencoder checkpoint classify.py and explore.py read, with settings of its own
AE_SETTINGS = {"d": 5, "dropout": 0.0375, "optimizer": "SGD", "lr": 0.0123,
               "weight_decay": 0.000456}


def damage(state, drop, add):
    if drop:
        state[drop].pop(list(state[drop])[-1])              # the last layer's bias
    if add:
        state[add]["extra.weight"] = torch.zeros(3)


def write_ae_checkpoint(path, drop=None, add=None, settings=None):
    """An ae.pt of AE_SETTINGS, less or more: drop: a part ("encoder" or "decoder") that lacks
    its last weight; add: a part that holds one weight too many; settings: values edited."""
    settings = {**AE_SETTINGS, "epochs": 1, "quick": True, "seed": 0, **(settings or {})}
    torch.manual_seed(0)
    state = {"encoder": common.Encoder(settings["d"], settings["dropout"]).state_dict(),
             "decoder": common.Decoder(settings["d"], settings["dropout"]).state_dict()}
    damage(state, drop, add)
    plumbing.checkpoints.save_checkpoint(path, settings, **state)


def write_vae_checkpoint(path, d=3, drop=False, add=False):
    torch.manual_seed(0)
    state = {"vae": vae.VAE(d).state_dict()}
    damage(state, "vae" if drop else None, "vae" if add else None)
    plumbing.checkpoints.save_checkpoint(path, {"d": d}, **state)


def write_tuned(path, study, params):
    path.write_text(json.dumps({"study": study, "params": params, "value": 1.0,
                                "direction": "minimize"}))


def spy_on_optimizers(monkeypatch, module):
    """Each optimiser `module` makes through make_optimizer, as it is when made: its kind,
    lr, weight decay, the ids of its parameters and their values (the initial weights)."""
    made, make = [], common.make_optimizer

    def spy(name, params, lr, weight_decay):
        params = list(params)
        optimizer = make(name, params, lr, weight_decay)
        group, = optimizer.param_groups                    # one group per optimiser
        made.append(SimpleNamespace(
            optimizer=optimizer, setting=(type(optimizer).__name__, group["lr"],
                                          group["weight_decay"]),
            params={id(p) for p in group["params"]},
            initial=[p.detach().clone() for p in params]))
        return optimizer
    monkeypatch.setattr(module, "make_optimizer", spy)
    return made


def spy_on_calls(monkeypatch, module, name):
    """What module.name returns, each time the code under test calls it."""
    returned, original = [], getattr(module, name)

    def spy(*args, **kwargs):
        returned.append(result := original(*args, **kwargs))
        return result
    monkeypatch.setattr(module, name, spy)
    return returned


def spy_on_batches(monkeypatch, module):
    """The order of the training images in each epoch (training is what calls batches)."""
    orders, batches = [], common.batches

    def spy(*args, **kwargs):
        parts = batches(*args, **kwargs)
        orders.append(torch.cat(parts))
        return parts
    monkeypatch.setattr(module, "batches", spy)
    return orders


def owner(models, record):
    """The one model among `models` whose parameters an optimiser record holds."""
    owners = [m for m in models if {id(p) for p in m.parameters()} == record.params]
    assert len(owners) == 1
    return owners[0]


def dropouts(module):
    return [m.p for m in module.modules() if isinstance(m, nn.Dropout)]


def same(a, b):
    """Two tensors, or two lists of tensors, equal element by element."""
    a, b = ([v] if torch.is_tensor(v) else v for v in (a, b))
    return len(a) == len(b) and all(torch.equal(s, t) for s, t in zip(a, b))


def write_results(out, **files):
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / f"{name}.json").write_text(json.dumps(data))


def nan_in(phase, key, module, monkeypatch, at_call=1):
    """Replace module's train_epoch and evaluate by stand-ins that return finite numbers,
    except `key` of `phase` ("train" or "val"), NaN at its call number at_call."""
    calls = {"train": 0, "val": 0}

    def stand_in(name, keys):
        def fake(*args, **kwargs):
            calls[name] += 1
            return {k: math.nan if (name, k) == (phase, key) and calls[name] == at_call
                    else 0.5 for k in keys}
        return fake
    keys = {p: [k for q, k in WATCHED[module.__name__] if q == p] for p in ("train", "val")}
    monkeypatch.setattr(module, "train_epoch", stand_in("train", keys["train"]))
    monkeypatch.setattr(module, "evaluate", stand_in("val", keys["val"]))


@pytest.fixture
def steps_spy(monkeypatch):
    """reproduce.py with every step recorded, not run (steps_spy.started, steps_spy.signalled):
    its machinery, plumbing/steps.py, starts and signals spies. A spy ends at once with the
    status steps_spy.exit_status(command) gives, or runs until it is signalled (None)."""
    steps_spy = SimpleNamespace(module=scripts.reproduce, started=[], signalled=[],
                                exit_status=lambda command: 0)

    def popen(command, cwd, **kwargs):
        command = command[1:]                           # less sys.executable
        process = SimpleNamespace(command=command, cwd=cwd, pid=10**7 + len(steps_spy.started),
                                  returncode=steps_spy.exit_status(command))
        process.poll = process.wait = lambda: process.returncode
        steps_spy.started.append(process)
        return process

    def killpg(pid, signum):
        process = next(p for p in steps_spy.started if p.pid == pid)
        steps_spy.signalled.append((process.command, signum))
        process.returncode = 128 + signum             # as a step stopped by it exits
    monkeypatch.setattr(plumbing.steps, "subprocess", SimpleNamespace(  # its own name only
        Popen=popen, STDOUT=subprocess.STDOUT, DEVNULL=subprocess.DEVNULL))
    monkeypatch.setattr(plumbing.steps.os, "killpg", killpg)
    return steps_spy


def commands_of(steps_spy, *words):
    return [p.command for p in steps_spy.started if p.command[:len(words)] == list(words)]


def flag_value(command, flag):
    return command[len(command) - 1 - command[::-1].index(flag) + 1]   # the last one given


def run_report(data_dir, out, *flags, head=False):
    """`python -m scripts.reproduce --quick` on 500 images into out; with head=True, its
    console is read to the first line and closed, as `| head -n 1` does. Its stderr is kept
    beside out, in OUT.stderr."""
    pytest.importorskip("beyond.samples")
    err = out.with_name(out.name + ".stderr")
    with open(err, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "scripts.reproduce", "--quick",
                                 "--subset", "500", "--seed", "3", *CPU, "--data-dir",
                                 str(data_dir), "--out-dir", str(out), *flags],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=f, text=True)
        console = proc.stdout.readline()
        if head:
            proc.stdout.close()
        else:
            console += proc.stdout.read()
        proc.wait(timeout=900)
    assert proc.returncode == 0, console[-3000:] + err.read_text()[-3000:]
    return out


# A folder name with a space, unicode and both quotes: a valid path must work
AWKWARD = "résultats ✓ 日本 l'été \"x\""


@pytest.fixture(scope="module")
def report_jobs3(data_dir, tmp_path_factory):
    """The whole report on 500 images, steps side by side (--jobs 3), then 2 seeds x 2
    configurations (--seed 3): 29 steps, about 90 s on the 2-core CPU. Into a folder, and
    from a data folder, named AWKWARD, its console closed after the first line."""
    data = tmp_path_factory.mktemp("data") / AWKWARD
    data.mkdir()
    (data / "FashionMNIST").symlink_to(Path(data_dir).resolve() / "FashionMNIST")
    return run_report(data, tmp_path_factory.mktemp("jobs3") / AWKWARD, "--jobs", "3",
                      "--seeds", "2", head=True)
