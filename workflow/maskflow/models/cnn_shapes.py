"""`cnn` feature-map sizes, block by block, without torch.

The config stage (maskflow.config, on every Snakemake start) calls `check_input` with the
dataset's crop size, so a stack of blocks that shrinks the crops to nothing is refused before
any job starts, naming the block and the sizes on the way:

    blocks[5]: shrinks the 1x1 feature map to 0x0 (pool 2; sizes 32 -> 16 -> 8 -> 4 -> 2 -> 1 -> 0)

The builder (maskflow.models.cnn) uses the same `output_size`, so both agree with torch's
floor arithmetic. `mlp` and `resnet` need no such check: an mlp flattens any crop, and
resnet's 3x3 convolutions with padding 1 never take a map below 1x1.

    from maskflow.models import check_arch
    sizes(check_arch({"type": "cnn", "blocks": [{"channels": 8, "pool": 2}]})["blocks"], 32)   # [32, 16]
"""

from __future__ import annotations

from maskflow.errors import ConfigError


def output_size(size: int, block: dict) -> int:
    """Spatial size after one (filled) block of square maps: conv, then the optional max pool."""
    if block["padding"] != "same":
        size = (size + 2 * block["padding"] - block["kernel"]) // block["stride"] + 1
    if block["pool"] and size >= 1:
        size //= block["pool"]
    return size


def _what(block: dict) -> str:
    parts = [f"kernel {block['kernel']}"]
    if block["stride"] != 1:
        parts.append(f"stride {block['stride']}")
    if block["padding"] != "same":
        parts.append(f"padding {block['padding']}")
    if block["pool"]:
        parts.append(f"pool {block['pool']}")
    return ", ".join(parts)


def sizes(blocks: list[dict], size: int) -> list[int]:
    """The crop size, then the map size after each block; ConfigError at the first block that
    leaves less than one pixel."""
    trail = [size]
    for i, block in enumerate(blocks):
        out = output_size(trail[-1], block)
        trail.append(out)
        if out < 1:
            steps = " -> ".join(map(str, trail))
            raise ConfigError(
                f"blocks[{i}]: shrinks the {trail[-2]}x{trail[-2]} feature map to {max(out, 0)}x{max(out, 0)} "
                f"({_what(block)}; sizes {steps}); use fewer blocks or smaller kernels, strides or pools"
            )
    return trail


def check_input(arch: dict, channels: int, size: int) -> None:
    """The registry's shape check of a filled `cnn` arch (raises ConfigError)."""
    sizes(arch["blocks"], size)
