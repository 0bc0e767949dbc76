"""Tests of the whole project: `pytest test_all.py` (about N minutes on a 2-core CPU).

Most tests use tiny synthetic data; the end-to-end tests run each script with --quick on
the real Fashion-MNIST (decompressed once into ./data from Debian's package).
"""
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

import common

ROOT = Path(__file__).resolve().parent


def run(script, *args, ok=True, timeout=600):
    """Run `python SCRIPT ARGS...` in the project folder, as a student would."""
    proc = subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
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
    return common.find_data(ROOT / "data")


@pytest.fixture(scope="session")
def quick_ae(data_dir, tmp_path_factory):
    """A folder holding what `ae.py --quick` writes, ae.pt included."""
    out = tmp_path_factory.mktemp("ae_quick")
    run("ae.py", "--quick", "--data-dir", data_dir, "--out-dir", out)
    return out


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


# -----------------------------------------------------------------------------
# Models: Tables 1 and 2, layer by layer

# (kind, in channels, out channels, kernel, stride, padding, output shape without n)
TABLE_1 = [(nn.Conv2d, 1, 8, 4, 2, 1, (8, 14, 14)),
           (nn.Conv2d, 8, 16, 4, 2, 1, (16, 7, 7)),
           (nn.Conv2d, 16, 32, 3, 2, 0, (32, 3, 3))]
TABLE_2 = [(nn.ConvTranspose2d, 32, 16, 3, 2, 0, (16, 7, 7)),
           (nn.ConvTranspose2d, 16, 8, 4, 2, 1, (8, 14, 14)),
           (nn.ConvTranspose2d, 8, 1, 4, 2, 1, (1, 28, 28))]


def layer_outputs(module, x):
    """The output shape (without the batch) after every layer with weights, and the layers."""
    shapes, layers = [], []
    for layer in module.modules():
        if len(list(layer.children())) == 0:  # a leaf
            x = layer(x)
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                layers.append(layer)
                shapes.append(tuple(x.shape[1:]))
    return shapes, layers, x


def test_encoder_matches_table_1_layer_by_layer():
    d, n = 7, 3
    shapes, layers, h = layer_outputs(common.Encoder(d, 0.2).eval(), torch.rand(n, 1, 28, 28))
    for (kind, c_in, c_out, k, s, p, shape), layer, got in zip(TABLE_1, layers, shapes):
        assert isinstance(layer, kind)
        assert (layer.in_channels, layer.out_channels) == (c_in, c_out)
        assert (layer.kernel_size, layer.stride, layer.padding) == ((k, k), (s, s), (p, p))
        assert got == shape
    assert [(m.in_features, m.out_features) for m in layers[3:]] == [(288, 64), (64, d)]
    assert shapes[3:] == [(64,), (d,)]
    assert h.shape == (n, d)


def test_decoder_matches_table_2_layer_by_layer():
    d, n = 7, 3
    decoder = common.Decoder(d, 0.2).eval()
    shapes, layers, x_hat = layer_outputs(decoder, torch.randn(n, d))
    assert [(m.in_features, m.out_features) for m in layers[:2]] == [(d, 64), (64, 288)]
    for (kind, c_in, c_out, k, s, p, shape), layer, got in zip(TABLE_2, layers[2:], shapes[2:]):
        assert isinstance(layer, kind)
        assert (layer.in_channels, layer.out_channels) == (c_in, c_out)
        assert (layer.kernel_size, layer.stride, layer.padding) == ((k, k), (s, s), (p, p))
        assert got == shape
    assert isinstance(list(decoder.modules())[-1], nn.Sigmoid)
    assert x_hat.shape == (n, 1, 28, 28) and 0 <= x_hat.min() and x_hat.max() <= 1


def test_dropout_follows_both_linear_layers_with_rate_dr():
    rates = [m.p for m in common.Encoder(5, 0.3).modules() if isinstance(m, nn.Dropout)]
    assert rates == [0.3, 0.3]
    rates = [m.p for m in common.Decoder(5, 0.3).modules() if isinstance(m, nn.Dropout)]
    assert rates == [0.3, 0.3]


def test_weights_have_kaiming_scale_and_zero_bias():
    torch.manual_seed(0)
    linear = common.Encoder(300, 0.0).linear[0]                # Linear(288, 64)
    expected = (2 / 288) ** 0.5                                # He et al. (2015), fan-in
    assert abs(linear.weight.std().item() / expected - 1) < 0.05
    assert torch.all(linear.bias == 0)


# -----------------------------------------------------------------------------
# Data: split, lookup, errors

def test_split_is_48000_12000_disjoint_and_ignores_the_seed():
    torch.manual_seed(1)
    train_a, val_a = common.split_indices(60_000)
    common.seed_everything(12345)
    train_b, val_b = common.split_indices(60_000)
    assert (len(train_a), len(val_a)) == (48_000, 12_000)
    assert torch.equal(train_a, train_b) and torch.equal(val_a, val_b)
    together = torch.cat([train_a, val_a])
    assert len(together.unique()) == 60_000


def test_batches_visit_every_index_once():
    parts = common.batches(1000, 256, "cpu", generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [256, 256, 256, 232]
    assert torch.equal(torch.cat(parts).sort().values, torch.arange(1000))


def test_data_is_read_from_a_folder_of_idx_files(tmp_path):
    arrays = synthetic_fashion_mnist(tmp_path / "FashionMNIST" / "raw", n_train=50)
    (x_train, y_train), (x_val, y_val) = common.load_train_val(tmp_path, "cpu")
    assert x_train.shape == (40, 1, 28, 28) and x_val.shape == (10, 1, 28, 28)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    images, labels = arrays["train"]
    train_idx, _ = common.split_indices(50, 10)
    assert torch.allclose(x_train[:, 0], torch.tensor(images[train_idx.numpy()] / 255).float())
    assert torch.equal(y_train, torch.tensor(labels[train_idx.numpy()]))
    x_test, y_test = common.load_test(tmp_path, "cpu")
    assert x_test.shape == (20, 1, 28, 28) and len(y_test) == 20


def test_debian_gz_files_are_decompressed_into_the_raw_folder(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    synthetic_fashion_mnist(debian, gz=True)
    monkeypatch.setattr(common, "DEBIAN_DIR", debian)
    root = common.find_data(tmp_path / "data")
    for name in common.RAW_FILES:
        raw = root / "FashionMNIST" / "raw" / name
        assert raw.read_bytes() == gzip.decompress((debian / f"{name}.gz").read_bytes())


def test_missing_data_names_the_three_ways_to_get_it(tmp_path, monkeypatch):
    from torchvision.datasets import FashionMNIST
    monkeypatch.setattr(common, "DEBIAN_DIR", tmp_path / "no-such-folder")
    monkeypatch.setattr(FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])  # refuses at once
    with pytest.raises(SystemExit) as e:
        common.load_train_val(tmp_path / "empty", "cpu")
    message = str(e.value)
    assert "FashionMNIST/raw" in message and "--data-dir" in message
    assert "apt-get install dataset-fashion-mnist" in message and "internet" in message


@pytest.mark.parametrize("damage", ["truncate", "magic"])
def test_corrupt_file_is_named_in_the_error(tmp_path, damage):
    raw = tmp_path / "FashionMNIST" / "raw"
    synthetic_fashion_mnist(raw)
    bad = raw / "train-images-idx3-ubyte"
    data = bad.read_bytes()
    bad.write_bytes(data[:-100] if damage == "truncate" else b"\x00\x00\x09\x03" + data[4:])
    with pytest.raises(SystemExit) as e:
        common.load_train_val(tmp_path, "cpu")
    assert str(bad) in str(e.value) and "corrupt" in str(e.value)


def test_real_data_has_the_report_split(data_dir):
    (x_train, y_train), (x_val, y_val) = common.load_train_val(data_dir, "cpu")
    assert x_train.shape == (48_000, 1, 28, 28) and x_val.shape == (12_000, 1, 28, 28)
    assert 0 <= x_train.min() and x_train.max() == 1
    assert torch.bincount(y_train).min() > 4000  # every class present, roughly balanced
    x_test, _ = common.load_test(data_dir, "cpu")
    assert x_test.shape == (10_000, 1, 28, 28)


# -----------------------------------------------------------------------------
# Checkpoints

def test_checkpoint_round_trip(tmp_path):
    encoder, decoder = common.Encoder(6, 0.1), common.Decoder(6, 0.1)
    path = tmp_path / "ae.pt"
    common.save_checkpoint(path, {"d": 6, "dropout": 0.1}, encoder=encoder.state_dict(),
                           decoder=decoder.state_dict())
    assert [p.name for p in tmp_path.iterdir()] == ["ae.pt"]  # no temporary file left
    ckpt = common.load_checkpoint(path, "python ae.py")
    assert ckpt["settings"] == {"d": 6, "dropout": 0.1}
    again = common.load_weights(common.Encoder(6, 0.1), ckpt, "encoder", path, "python ae.py")
    for a, b in zip(encoder.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    torch.load(path, weights_only=True)  # only tensors and plain settings inside


def test_mismatched_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "ae.pt"
    common.save_checkpoint(path, {"d": 6}, encoder=common.Encoder(6, 0.1).state_dict())
    ckpt = common.load_checkpoint(path, "python ae.py")
    with pytest.raises(SystemExit) as e:
        common.load_weights(common.Encoder(9, 0.1), ckpt, "encoder", path, "python ae.py")
    assert "does not match" in str(e.value) and "python ae.py" in str(e.value)


def test_missing_or_unreadable_checkpoint_names_the_command(tmp_path):
    with pytest.raises(SystemExit) as e:
        common.load_checkpoint(tmp_path / "ae.pt", "python ae.py")
    assert "not found" in str(e.value) and "python ae.py" in str(e.value)
    (tmp_path / "ae.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit) as e:
        common.load_checkpoint(tmp_path / "ae.pt", "python ae.py")
    assert "python ae.py" in str(e.value)


# -----------------------------------------------------------------------------
# PCA, the linear baseline

def test_pca_matches_numpy_svd():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    mean, components, ratio = common.pca(torch.tensor(x, dtype=torch.float32), 3)
    _, s, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    np.testing.assert_allclose(mean.numpy(), x.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.abs(components.numpy()), np.abs(vt[:3]), atol=1e-4)
    np.testing.assert_allclose(ratio.numpy(), (s**2 / (s**2).sum())[:3], rtol=1e-4)


def test_pca_baseline_is_exact_with_every_component():
    import ae
    x = torch.rand(100, 1, 28, 28)
    assert ae.pca_val_mse(x, x[:10], 784) < 1e-8
    assert ae.pca_val_mse(x, x[:10], 2) > ae.pca_val_mse(x, x[:10], 50)


# -----------------------------------------------------------------------------
# ae.py

def test_quick_sets_defaults_but_explicit_flags_win():
    import ae
    args = common.parse_args(ae.parser, ae.QUICK, ["--quick", "--epochs", "3"])
    assert args.epochs == 3 and args.subset == ae.QUICK["subset"]
    args = common.parse_args(ae.parser, ae.QUICK, [])
    assert args.epochs == 42 and args.subset == 0 and args.lr == 0.0005


@pytest.mark.parametrize("flags", [["--epochs", "-1"], ["--device", "tpu"], ["--d", "0"],
                                   ["--dropout", "1.5"], ["--no-such-flag"]])
def test_bad_flags_exit_with_one_line(flags, capsys):
    import ae
    with pytest.raises(SystemExit) as e:
        ae.main(flags)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "error" in err and "\n" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_unavailable_device_is_a_clear_error():
    with pytest.raises(SystemExit) as e:
        common.pick_device("cuda")
    assert "not available" in str(e.value)


def test_a_diverging_run_stops_and_says_so(capsys):
    import ae
    torch.manual_seed(0)
    model = nn.Sequential(common.Encoder(2, 0.0), common.Decoder(2, 0.0))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e30)
    args = common.parse_args(ae.parser, {}, ["--epochs", "5", "--batch-size", "8"])
    x = torch.rand(32, 1, 28, 28)
    history, _ = ae.fit(model, optimizer, x, x[:8], args, "SGD")
    assert history["diverged"] and len(history["train_mse"]) < 5
    assert "diverged" in capsys.readouterr().out


def test_ae_quick_end_to_end_on_real_data(quick_ae):
    for figure in ("fig01_loss_adam_vs_sgd.png", "fig07_training_progress.png",
                   "fig02_reconstruction_bag.png", "fig10_reconstructions.png"):
        assert (quick_ae / figure).stat().st_size > 10_000
    results = json.loads((quick_ae / "ae.json").read_text())
    assert results["compare"]["settings"]["quick"] and results["refit"]["settings"]["epochs"] == 2
    for name in ("Adam", "SGD"):
        assert len(results["compare"][name]["val_mse"]) == 2
    refit = results["refit"]
    assert refit["params"]["d"] == 185 and refit["source"] == "report"
    assert refit["val_mse"][-1] < refit["val_mse"][0]        # it learned something
    assert 0 < refit["pca_val_mse"] < 0.05
    ckpt = common.load_checkpoint(quick_ae / "ae.pt", "python ae.py")
    d, dropout = ckpt["settings"]["d"], ckpt["settings"]["dropout"]
    encoder = common.load_weights(common.Encoder(d, dropout), ckpt, "encoder", "ae.pt", "")
    decoder = common.load_weights(common.Decoder(d, dropout), ckpt, "decoder", "ae.pt", "")
    x = torch.rand(2, 1, 28, 28)
    assert decoder(encoder(x)).shape == x.shape


def test_ae_reads_tuned_values(data_dir, tmp_path):
    tuned = {"study": "ae", "params": {"d": 3, "optimizer": "SGD", "lr": 0.01,
                                       "dropout": 0.0, "weight_decay": 0.0},
             "value": 0.05, "direction": "minimize",
             "trials": {"complete": 1, "pruned": 0, "failed": 0}}
    (tmp_path / "tuned_ae.json").write_text(json.dumps(tuned))
    run("ae.py", "--quick", "--part", "refit", "--epochs", "1", "--data-dir", data_dir,
        "--out-dir", tmp_path)
    refit = json.loads((tmp_path / "ae.json").read_text())["refit"]
    assert refit["params"] == tuned["params"] and refit["source"].endswith("tuned_ae.json")
    assert common.load_checkpoint(tmp_path / "ae.pt", "")["settings"]["d"] == 3
