"""maskflow: annotated photos -> trained, compared and explained image classifiers.

The package holds all the logic of the Snakemake workflow in `workflow/`; the rules only call
`maskflow <command>` (see `maskflow.cli`). Every module is importable and unit-tested.

Importing it sets one thing in the environment, before any model work: MKL's strict
conditional numerical reproducibility (`MKL_CBWR=AUTO,STRICT`, unless the user set MKL_CBWR).
torch's CPU Linear layers run on MKL's sgemm, which on some processors (measured: an Intel Xeon
with AMX) splits its sums by thread count: a model trained at 2 threads and evaluated at 1 then
misses its logged validation loss in the 8th digit. In strict mode sgemm gives the same bits at
any thread count (a micro-benchmark of cnn_baseline's training and evaluation steps at 2
threads showed no slowdown beyond its noise).
MKL reads the setting at its first call, so it is set here, when every maskflow process starts.
"""

import os

os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

__version__ = "0.1.0"
