"""Figures that read the cache (saliency, filters, latent) go through the checked loader
(maskflow.data.integrity.load_split): a damaged cache file is one line naming it, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from maskflow.cli import main

from helpers.evaluation import CLASSES, write_cache, write_checkpoint


@pytest.mark.parametrize("figure", ["saliency", "filters"])
def test_a_truncated_cache_file_is_refused_by_the_figure(figure, tmp_path, capsys):
    cache = write_cache(tmp_path / "cache")
    checkpoint = write_checkpoint(tmp_path / "model" / "checkpoint.pt", cache)
    x = cache / "test_x.npy"
    x.write_bytes(x.read_bytes()[:-100])  # cut short, as by a full disk
    spec = json.dumps({"name": "model_a", "classes": CLASSES, "figures": {}})
    argv = ["figure", figure, "--checkpoint", str(checkpoint), "--cache-dir", str(cache), "--spec", spec]
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", str(tmp_path / f"{figure}.png")])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and err.count("\n") == 0, err
    assert str(x) in err and "truncated" in err
    assert not (tmp_path / f"{figure}.png").exists()
    assert np.load(cache / "test_y.npy").shape  # the other files are untouched
