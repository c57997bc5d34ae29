"""maskflow: annotated photos -> trained, compared and explained image classifiers.

The package holds all the logic of the Snakemake workflow in `workflow/`; the rules only call
`maskflow <command>` (see `maskflow.cli`). Every module is importable and unit-tested.
"""

__version__ = "0.1.0"
