"""Configuration: schema validation with readable errors, defaults, and model resolution.

The Snakefile calls `load_and_check(config, schema_path)` once at start. It validates the raw
config against `workflow/schemas/config.schema.yaml`, fills the dataset, model and figure
defaults below (the one place they live; download retries and timeouts are defaults of
maskflow.sources.download), and expands `base:` inheritance, `seeds:` replicates and `sweeps:`
into a flat mapping of resolved models. Each train rule then receives only its own resolved
model as params, so editing one model reruns that model alone.

    python -m maskflow.config config.yaml [more.yaml ...]   # checks, then prints the resolved config
    python -m maskflow.config --help
"""

from __future__ import annotations

import copy
import functools
import itertools
import sys
from pathlib import Path
from typing import Any

import yaml

from maskflow.errors import ConfigError

DEFAULT_SEED = 1
DEFAULT_DEVICE = "auto"

DATASET_DEFAULTS: dict[str, Any] = {
    "split": {"val_fraction": 0.1, "test_fraction": 0.2, "seed": 1},
    "preprocess": {"size": 32, "channels": "rgb", "margin": 0.0, "square": False},
    "annotations": {"box_order": "xyxy", "rename": {}, "label_case": "normalize"},
}

TRAIN_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 0.001,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 0.0,
    "schedule": {"type": "none", "every": 10, "factor": 0.1},
    "batch_size": 64,
    "epochs": 20,
    "early_stopping": None,
    "init": {"weights": "default", "bias": "default", "std": 0.01},
    "label_smoothing": 0.0,
    "augment": {
        "hflip": False,
        "vflip": False,
        "rotate": 0.0,
        "translate": 0.0,
        "brightness": 0.0,
        "contrast": 0.0,
    },
    "imbalance": {"method": "none", "weights": None},
    "latent_epochs": [],
    "mixed_precision": True,
}

EARLY_STOPPING_DEFAULTS: dict[str, Any] = {"monitor": "val_loss", "patience": 5, "restore_best": True}

FIGURE_DEFAULTS: dict[str, Any] = {
    "misclassified": 36,
    "overlays": 4,
    "saliency_per_class": 3,
    "tsne_perplexity": 30.0,
}

# A model's cluster needs (`cluster:`), for its first attempt: a small network's defaults; FER's
# VGG-style networks set their own (configs/). No `gpu_model`: any GPU. `evaluate`: its evaluate
# job's (on the CPU, `threads: evaluate`); the defaults hold every preset network's but
# fer_vgg64's (bench/real_scale.py --evaluate, docs/cluster.md).
CLUSTER_DEFAULTS: dict[str, Any] = {"runtime": 120, "mem_mb": 4000, "evaluate": {"runtime": 30, "mem_mb": 2000}}
# A model the NumPy trainer trains (no torch in its jobs) needs far less: on the full MNIST (70,000
# digits) the `dnn` preset's train job peaked at 557 MB and its evaluate job at 124 MB, in seconds
# (bench/real_scale.py). Its sweep's members travel in groups whose request sums their needs
# (docs/cluster.md), so the torch defaults would ask a 10-member group for 4x the memory and
# hours per round of one-second trainings.
NUMPY_CLUSTER_DEFAULTS: dict[str, Any] = {"runtime": 30, "mem_mb": 1000, "evaluate": {"runtime": 10, "mem_mb": 1000}}

THREAD_DEFAULTS: dict[str, int] = {"fetch": 2, "cache": 2, "train": 2, "evaluate": 1, "report": 2}

# Run history (maskflow.tracking): MLflow's own embedded default, a SQLite file in the working
# directory (outside results/, so deleting results keeps it) with the artifacts in a folder beside it.
TRACKING_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "uri": "sqlite:///mlflow.db",
    "artifacts": "mlartifacts",
    "experiment": "{dataset}",
    "copy": ["metrics", "history", "architecture", "figures"],
    "checkpoints": True,
}

# The splits every dataset ends up with. Fixed, so the DAG is known before any data is read.
SPLITS = ("train", "val", "test")


def deep_merge(base: dict, override: dict) -> dict:
    """Return `base` updated recursively by `override` (neither is modified)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_train(train: dict | None, where: str) -> dict:
    """A model's `train` settings with every default filled in (and early stopping's, when on).

    The one place training defaults are merged: config resolution and `maskflow train` (whose
    hand-written --spec may leave them out) both call it. `where` names the key in errors."""
    merged = deep_merge(TRAIN_DEFAULTS, train or {})
    if merged["early_stopping"] is not None:
        merged["early_stopping"] = deep_merge(EARLY_STOPPING_DEFAULTS, merged["early_stopping"])
    if merged["optimizer"] == "sgd" and merged["nesterov"] and merged["momentum"] <= 0:
        raise ConfigError(f"{where}.nesterov: needs momentum > 0 (momentum is {merged['momentum']})")
    return merged


def _key_path(parts) -> str:
    return ".".join(str(p) for p in parts) or "<top level>"


@functools.lru_cache(maxsize=4)
def load_schema(schema_path: str | Path) -> dict:
    """The config schema as a mapping (read once: the schema check and the sweep check use it)."""
    # libyaml's loader when PyYAML has it (its wheels do): the schema is read at every Snakemake
    # start, 40 ms in pure Python, 6 ms in C
    return yaml.load(Path(schema_path).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def validator_for(schema: dict):
    import jsonschema

    return jsonschema.Draft202012Validator(schema)


def schema_problems(instance: Any, validator, prefix: tuple = ()) -> list[str]:
    """`where: problem` for every way `instance` breaks the schema of `validator` (validator_for),
    innermost key first; `prefix` is the key path of `instance` inside the config."""
    import jsonschema

    errors = sorted(
        validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    lines = []
    for error in errors:
        # Descend into oneOf/anyOf/if-then so the message is about the innermost key.
        best = jsonschema.exceptions.best_match([error])
        where = _key_path((*prefix, *best.absolute_path))
        if best.validator == "additionalProperties":
            allowed = sorted(best.schema.get("properties", {}))
            message = f"{best.message}" + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
        elif best.validator == "enum":
            message = f"{best.instance!r} is not allowed; allowed values: {', '.join(map(repr, best.validator_value))}"
        elif best.validator == "propertyNames":
            message = f"{best.message} (names may use letters, digits and _ only)"
        else:
            message = best.message
        lines.append(f"{where}: {message}")
    return lines


def validate_schema(config: dict, schema_path: str | Path) -> None:
    """Validate against the JSON schema; raise ConfigError naming the key and what is allowed."""
    lines = schema_problems(config, validator_for(load_schema(schema_path)))
    if not lines:
        return
    more = f"\n  ... and {len(lines) - 10} more" if len(lines) > 10 else ""
    raise ConfigError("invalid config:\n" + "\n".join(f"  {line}" for line in lines[:10]) + more)


def resolve_dataset(name: str, dataset: dict) -> dict:
    """A dataset entry with every default filled in."""
    resolved = deep_merge(DATASET_DEFAULTS, dataset)
    resolved["name"] = name
    return resolved


def _resolve_base(name: str, models: dict, seen: tuple[str, ...] = ()) -> dict:
    if name in seen:
        raise ConfigError(f"models.{name}.base: inheritance cycle {' -> '.join(seen + (name,))}")
    entry = models[name]
    base = entry.get("base")
    if base is None:
        return copy.deepcopy(entry)
    if base not in models:
        raise ConfigError(
            f"models.{seen[0] if seen else name}.base: unknown model {base!r}; defined models: {', '.join(sorted(models))}"
        )
    parent = _resolve_base(base, models, seen + (name,))
    own = {k: v for k, v in entry.items() if k != "base"}
    merged = deep_merge(parent, own)
    merged.pop("base", None)
    # `seeds` expands replicates of the model that names it, not of its variants.
    if "seeds" not in own:
        merged.pop("seeds", None)
    return merged


def _fill_model_defaults(name: str, entry: dict, config: dict) -> dict:
    datasets = config["datasets"]
    dataset = entry.get("dataset")
    if dataset is None:
        if len(datasets) == 1:
            dataset = next(iter(datasets))
        else:
            raise ConfigError(
                f"models.{name}.dataset: required when several datasets are defined ({', '.join(datasets)})"
            )
    if dataset not in datasets:
        raise ConfigError(
            f"models.{name}.dataset: unknown dataset {dataset!r}; defined datasets: {', '.join(sorted(datasets))}"
        )
    if "type" not in entry.get("arch", {}):
        raise ConfigError(f"models.{name}.arch.type: required (directly or through base)")
    train = resolve_train(entry.get("train"), f"models.{name}.train")
    return {
        "name": name,
        "kind": "model",
        "dataset": dataset,
        "description": entry.get("description", ""),
        "seed": entry.get("seed", config.get("seed", DEFAULT_SEED)),
        "device": entry.get("device", config.get("device", DEFAULT_DEVICE)),
        "arch": copy.deepcopy(entry["arch"]),
        "train": train,
        "figures": deep_merge(FIGURE_DEFAULTS, entry.get("figures", {})),
        "cluster": deep_merge(cluster_defaults(entry["arch"]["type"]), entry.get("cluster", {})),
        "group": entry.get("group", name),
        "sweep": entry.get("sweep"),
    }


def cluster_defaults(arch_type: str) -> dict:
    """The cluster needs of a model of this type that sets none: the NumPy trainer's are small."""
    from maskflow.models import REGISTRY

    kind = REGISTRY.get(arch_type)
    return NUMPY_CLUSTER_DEFAULTS if kind is not None and kind.trainer == "numpy" else CLUSTER_DEFAULTS


def _format_value(value: Any) -> str:
    if isinstance(value, list):
        return "x".join(_format_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return "-".join(f"{k}{_format_value(v)}" for k, v in sorted(value.items()))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _set_dotted(entry: dict, dotted: str, value: Any, base: dict | None = None) -> None:
    parts = dotted.split(".")
    index = next((i for i, part in enumerate(parts) if part.isdigit()), None)
    if index is not None:
        # A list item (arch.layers.0.kernel): `base:` merging replaces lists whole, so the entry
        # gets a copy of the base model's list (or of the one set by an earlier grid key) with
        # that item changed.
        prefix = parts[:index]
        items = _lookup(entry, prefix)
        if not isinstance(items, list):
            items = copy.deepcopy(_lookup(base or {}, prefix))
        if not isinstance(items, list) or int(parts[index]) >= len(items):
            raise ConfigError(
                f"sweep grid key {dotted!r}: {'.'.join(prefix)} of the base model has no item {parts[index]}"
            )
        node = items
        for part in parts[index:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value
        parts, value = prefix, items
    node = entry
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"sweep grid key {dotted!r}: {part!r} is not a mapping")
    node[parts[-1]] = value


def _lookup(node: Any, parts: list[str]) -> Any:
    for part in parts:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def expand_sweeps(config: dict) -> dict[str, dict]:
    """Raw model entries generated by `sweeps:`, named `{sweep}-{key}{value}[_...]`."""
    models = config["models"]
    generated: dict[str, dict] = {}
    for sweep_name, sweep in (config.get("sweeps") or {}).items():
        if sweep["base"] not in models:
            raise ConfigError(
                f"sweeps.{sweep_name}.base: unknown model {sweep['base']!r}; defined models: {', '.join(sorted(models))}"
            )
        keys = list(sweep["grid"])
        # Keys into a list item need the base model's list (see _set_dotted).
        base = _resolve_base(sweep["base"], models) if any(p.isdigit() for k in keys for p in k.split(".")) else None
        for values in itertools.product(*(sweep["grid"][k] for k in keys)):
            suffix = "_".join(f"{k.split('.')[-1]}{_format_value(v)}" for k, v in zip(keys, values))
            entry: dict = {"base": sweep["base"]}
            for key, value in zip(keys, values):
                _set_dotted(entry, key, value, base)
            entry["sweep"] = sweep_name
            entry["sweep_values"] = dict(zip(keys, values))
            name = f"{sweep_name}-{suffix}"
            if name in generated:  # check_sweeps refuses repeated values first; this is the backstop
                raise ConfigError(
                    f"sweeps.{sweep_name}.grid: members {generated[name]['sweep_values']} and "
                    f"{entry['sweep_values']} would both be named {name}"
                )
            generated[name] = entry
    return generated


def check_sweeps(config: dict, schema: dict, datasets: dict[str, dict]) -> None:
    """Check every grid value of every sweep as the model it makes: the base model with that one
    value set must pass the same schema, training and architecture checks as a model written out,
    and no value may repeat (two members of one name would silently be one). Errors name the
    sweep, the grid key and the value."""
    models = config["models"]
    model_schema = validator_for({"$defs": schema["$defs"], "$ref": "#/$defs/model"})
    for sweep_name, sweep in (config.get("sweeps") or {}).items():
        if sweep["base"] not in models:
            continue  # expand_sweeps names the unknown base
        base = _resolve_base(sweep["base"], models)
        dataset = datasets.get(base.get("dataset") or next(iter(datasets)))
        for key, values in sweep["grid"].items():
            seen: dict[str, Any] = {}
            for value in values:
                where = f"sweeps.{sweep_name}.grid.{key}: value {value!r}"
                label = _format_value(value)
                if label in seen:
                    twice = "is listed twice" if seen[label] == value else f"and {seen[label]!r} give the same name"
                    raise ConfigError(
                        f"{where} {twice}: both members would be {sweep_name}-{key.split('.')[-1]}{label}; "
                        "list each value once"
                    )
                seen[label] = value
                try:
                    entry: dict = {}
                    _set_dotted(entry, key, value, base)
                    member = deep_merge(base, entry)
                    problems = schema_problems(member, model_schema)
                    if problems:
                        raise ConfigError(problems[0])
                    _check_member(member, [key], dataset)
                except ConfigError as error:
                    raise ConfigError(f"{where}: {error}") from None
        if len(sweep["grid"]) > 1:
            # Rules across keys (sgd's nesterov needs momentum; blocks and pools together): each
            # combination, once every single value has passed.
            members = expand_sweeps({"models": models, "sweeps": {sweep_name: sweep}})
            for name, entry in members.items():
                values = entry.pop("sweep_values")
                for extra in ("base", "sweep"):
                    entry.pop(extra)
                try:
                    _check_member(deep_merge(base, entry), list(values), dataset)
                except ConfigError as error:
                    named = ", ".join(f"{k}={v!r}" for k, v in values.items())
                    raise ConfigError(f"sweeps.{sweep_name}.grid: member {name} ({named}): {error}") from None


def _check_member(member: dict, keys: list[str], dataset: dict | None) -> None:
    """The training and architecture rules of a sweep member whose grid `keys` touch them."""
    if any(key.startswith("train.") for key in keys):
        resolve_train(member.get("train"), "train")
    if any(key.startswith("arch.") for key in keys) and dataset is not None:
        check_arch_fits(member["arch"], dataset["preprocess"], "arch")


SWEEP_KEYS = ("sweep", "sweep_values")  # what expand_sweeps adds to a member's raw entry


def resolve_models(config: dict) -> dict[str, dict]:
    """Every trainable model, fully resolved, keyed by the name used in result paths."""
    raw = dict(config["models"])
    sweep_entries = expand_sweeps(config)
    clash = set(raw) & set(sweep_entries)
    if clash:
        raise ConfigError(f"sweep model names clash with models: {', '.join(sorted(clash))}")
    # A member's `sweep` keys are not merged through `base:`; they are set after resolving. The
    # entries are stripped once: a copy of the whole table per member made 10,000 members take
    # 100 million steps (planning must grow linearly with the sweep).
    raw_all = {**raw, **{n: {k: v for k, v in e.items() if k not in SWEEP_KEYS} for n, e in sweep_entries.items()}}
    resolved: dict[str, dict] = {}
    for name in raw_all:
        merged = _resolve_base(name, raw_all)
        model = _fill_model_defaults(name, merged, config)
        if name in sweep_entries:
            model["sweep"] = sweep_entries[name]["sweep"]
            model["sweep_values"] = sweep_entries[name]["sweep_values"]
        seeds = merged.get("seeds")
        if seeds:
            for seed in seeds:
                replicate = copy.deepcopy(model)
                replicate["name"] = f"{name}-s{seed}"
                replicate["seed"] = seed
                replicate["group"] = name
                resolved[replicate["name"]] = replicate
        else:
            resolved[name] = model
    return resolved


def resolve_ensembles(config: dict, models: dict[str, dict]) -> dict[str, dict]:
    """Ensembles whose members are resolved models (or replicate groups, which expand to all seeds)."""
    ensembles: dict[str, dict] = {}
    for name, entry in (config.get("ensembles") or {}).items():
        if name in models:
            raise ConfigError(f"ensembles.{name}: the name is already used by a model")
        members: list[str] = []
        for member in entry["members"]:
            expanded = [m for m, spec in models.items() if m == member or spec["group"] == member]
            if not expanded:
                raise ConfigError(
                    f"ensembles.{name}.members: unknown model {member!r}; defined models: {', '.join(sorted(models))}"
                )
            members.extend(expanded)
        datasets = {models[m]["dataset"] for m in members}
        if len(datasets) != 1:
            raise ConfigError(
                f"ensembles.{name}.members: members use different datasets ({', '.join(sorted(datasets))})"
            )
        ensembles[name] = {
            "name": name,
            "kind": "ensemble",
            "dataset": datasets.pop(),
            "members": members,
            "description": entry.get("description", ""),
            "group": name,
            "figures": copy.deepcopy(FIGURE_DEFAULTS),
        }
    return ensembles


def resolve_sweeps(config: dict, models: dict[str, dict]) -> dict[str, dict]:
    """sweep -> {members, figures}: its members in grid order, and those whose own figures are
    drawn (`figures:` on the sweep: member names or "all"; none by default, the sweep's table and
    plots compare them). A name that is not a member stops here, naming the key."""
    sweeps: dict[str, dict] = {}
    for name, entry in (config.get("sweeps") or {}).items():
        members = [m for m, spec in models.items() if spec.get("sweep") == name]
        wanted = entry.get("figures") or []
        if wanted == "all":
            wanted = members
        known = set(members)
        unknown = [m for m in wanted if m not in known]
        if unknown:
            shown = ", ".join(members[:5]) + (", ..." if len(members) > 5 else "")
            raise ConfigError(
                f"sweeps.{name}.figures: {unknown[0]!r} is not a member of the sweep (its {len(members)} members: {shown})"
            )
        sweeps[name] = {"members": members, "figures": list(wanted)}
    return sweeps


def check_architectures(models: dict[str, dict]) -> None:
    """Ask the model registry whether every arch is buildable for its dataset's crops (size,
    channels: `sequential` layer and `cnn` block shapes); errors name the model and key."""
    for name, model in models.items():
        check_arch_fits(model["arch"], model.get("preprocess") or {}, f"models.{name}.arch")


def check_arch_fits(arch: dict, preprocess: dict, where: str) -> None:
    """check_input of the model registry, its errors prefixed with `where` (the arch's key path)."""
    from maskflow.models import check_input

    try:
        check_input(arch, preprocess)
    except ConfigError as error:
        # `layers[7] (linear): ...` reads as a key path: models.x.arch.layers[7] (linear): ...
        joiner = "." if str(error).startswith(("layers", "blocks")) else ": "
        raise ConfigError(f"{where}{joiner}{error}") from None


def load_and_check(config: dict, schema_path: str | Path) -> dict:
    """Validate `config` and return it resolved: {'seed', 'device', 'threads', 'datasets', 'models',
    'ensembles', 'sweeps', 'report', 'cluster_max_runtime', 'tracking'}, every default filled in (models:
    resolve_models; ensembles: resolve_ensembles; sweeps: resolve_sweeps)."""
    validate_schema(config, schema_path)
    datasets = {name: resolve_dataset(name, ds) for name, ds in config["datasets"].items()}
    check_sweeps(config, load_schema(schema_path), datasets)
    models = resolve_models(config)
    for model in models.values():
        # The crop geometry travels with the model into its checkpoint, so `maskflow predict`
        # crops new photos exactly as the training arrays were cropped.
        model["preprocess"] = copy.deepcopy(datasets[model["dataset"]]["preprocess"])
    check_architectures(models)
    ensembles = resolve_ensembles(config, models)
    sweeps = resolve_sweeps(config, models)
    for name, ds in datasets.items():
        baseline = ds.get("baseline")
        if baseline and not any(m == baseline or spec["group"] == baseline for m, spec in models.items()):
            raise ConfigError(f"datasets.{name}.baseline: unknown model {baseline!r}")
    return {
        "seed": config.get("seed", DEFAULT_SEED),
        "device": config.get("device", DEFAULT_DEVICE),
        "threads": {**THREAD_DEFAULTS, **(config.get("threads") or {})},
        "datasets": datasets,
        "models": models,
        "ensembles": ensembles,
        "sweeps": sweeps,
        "report": config.get("report") or {},
        "cluster_max_runtime": config.get("cluster_max_runtime"),
        "tracking": deep_merge(TRACKING_DEFAULTS, config.get("tracking") or {}),
    }


def check_sources(resolved: dict) -> None:
    """A `path` source not yet fetched whose file is absent: ConfigError with one line, the path
    and the source's `hint` (what to download, from where). Paths are relative to the working
    directory, as the workflow reads them."""
    from maskflow.sources.local import MANIFEST, missing_source

    for name, dataset in resolved["datasets"].items():
        if not Path(MANIFEST.format(dataset=name)).exists():
            missing = missing_source(name, dataset["source"])
            if missing:
                raise ConfigError(missing)


def read_layers(paths: list[str]) -> dict:
    """The config files merged as `snakemake --configfile A B` merges them: key by key, later
    files win, mappings merged recursively, anything else replaced whole."""
    config: dict = {}
    for path in paths:
        try:
            layer = yaml.safe_load(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot be read ({error})") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
        if layer is None:
            continue  # an empty file, as Snakemake takes it
        if not isinstance(layer, dict):
            raise ConfigError(f"{path}: must be a mapping of keys, got a {type(layer).__name__}")
        config = deep_merge(config, layer)
    return config


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m maskflow.config",
        description="Check maskflow config files as `snakemake` does before any job runs, without "
        "Snakemake: the same checks, the same messages. Prints the resolved config (every default "
        "filled in, models expanded) as YAML; exit status 1 and one 'config: ...' message on a mistake.",
    )
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        default=["config.yaml"],
        help="config files, layered as `snakemake --configfile FILE ...` layers them (default: config.yaml)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print a one-line summary instead of the YAML")
    parser.add_argument(
        "--no-data-check",
        action="store_true",
        help="do not check that `path` sources exist (relative to the current folder), e.g. in CI without the data",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    schema = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"
    try:
        resolved = load_and_check(read_layers(args.files), schema)
        if not args.no_data_check:
            check_sources(resolved)
    except ConfigError as error:
        # The line `snakemake -n` shows for the same mistake (workflow/rules/common.smk).
        print(f"config: {error}", file=sys.stderr)
        sys.exit(1)
    if args.quiet:
        print(
            f"config: {' + '.join(args.files)}: valid ({len(resolved['datasets'])} dataset(s), "
            f"{len(resolved['models'])} model(s), {len(resolved['ensembles'])} ensemble(s))"
        )
    else:
        yaml.safe_dump(resolved, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
