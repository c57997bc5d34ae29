"""A model's description says what its config builds (issue 29.10: config.yaml called
`cnn_baseline` "two 3x3 conv blocks" while it has three; the text reaches comparison.csv and the
report). For every model of config.yaml, the presets and the test configs whose description
counts its conv blocks ("three 3x3 conv blocks"), the count is len(arch.blocks)."""

from __future__ import annotations

import re

import pytest
import yaml

from maskflow.config import load_and_check

from helpers import ROOT

NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
COUNTED = re.compile(rf"\b({'|'.join(NUMBERS)}|\d+)\b[^,;()]*?\bconv(?:olution(?:al)?)? blocks?\b")
CONFIGS = [
    ROOT / "config.yaml",
    *sorted((ROOT / "configs").glob("*.yaml")),
    *sorted((ROOT / "tests/config").glob("*.yaml")),
]


def counted_blocks(description: str) -> int | None:
    match = COUNTED.search(description or "")
    if not match:
        return None
    word = match.group(1)
    return int(word) if word.isdigit() else NUMBERS[word]


def test_the_pattern_reads_the_counts():
    assert counted_blocks("three 3x3 conv blocks with max pooling") == 3
    assert counted_blocks("small CNN, two conv blocks with batch norm") == 2
    assert counted_blocks("stride-2 convolutions instead of pooling") is None


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_descriptions_count_the_conv_blocks_the_model_has(path):
    resolved = load_and_check(yaml.safe_load(path.read_text()), ROOT / "workflow/schemas/config.schema.yaml")
    wrong = []
    for name, model in resolved["models"].items():
        said = counted_blocks(model.get("description"))
        if said is not None and model["arch"]["type"] == "cnn" and said != len(model["arch"]["blocks"]):
            wrong.append(f"{name}: says {said}, has {len(model['arch']['blocks'])}")
    assert not wrong, wrong
