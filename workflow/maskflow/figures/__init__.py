"""The figures of a model or ensemble, one family per module.

families.py is the table of families (names, inputs, which models get them; read by
maskflow.layout at every Snakemake start, so it stays light); command.py is `maskflow figure`,
which renders one figure through its family's module (confusion.py, curves.py, ...). common.py
and scales.py hold what several figures share.
"""
