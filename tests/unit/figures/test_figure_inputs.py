"""Figures that read the cache (latent without snapshots, the misclassified gallery) go through
the checked loader (maskflow.data.integrity.load_split): a damaged cache file is one line naming
it, exit 2. (Saliency and the conv figures read evaluate's explanations.npz: test_figures.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from maskflow.cli import main

from helpers.evaluation import CLASSES, write_cache, write_checkpoint


@pytest.mark.parametrize("figure", ["latent", "misclassified_test"])
def test_a_truncated_cache_file_is_refused_by_the_figure(figure, tmp_path, capsys):
    cache = write_cache(tmp_path / "cache")
    checkpoint = write_checkpoint(tmp_path / "model" / "checkpoint.pt", cache)
    split = "val" if figure == "latent" else "test"
    x = cache / f"{split}_x.npy"
    x.write_bytes(x.read_bytes()[:-100])  # cut short, as by a full disk
    spec = json.dumps({"name": "model_a", "classes": CLASSES, "figures": {}})
    no_snapshots = tmp_path / "latent.npz"
    np.savez(no_snapshots, epochs=np.zeros(0, dtype=int), labels=np.zeros(0, dtype=int))
    predictions = tmp_path / "predictions_test.csv"
    n = len(np.load(cache / "test_y.npy"))
    predictions.write_text(
        "row_id,photo,true,predicted,confidence\n" + "".join(f"test.csv:{i + 1},p.jpg,good,bad,0.9\n" for i in range(n))
    )
    inputs = (
        ["--latent", str(no_snapshots), "--checkpoint", str(checkpoint)]
        if figure == "latent"
        else ["--predictions", str(predictions)]
    )
    argv = ["figure", figure, *inputs, "--cache-dir", str(cache), "--spec", spec]
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", str(tmp_path / f"{figure}.png")])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and err.count("\n") == 0, err
    assert str(x) in err and "truncated" in err
    assert not (tmp_path / f"{figure}.png").exists()
    assert np.load(cache / f"{split}_y.npy").shape  # the other files are untouched
