"""The compare stage (workflow/rules/compare.smk): a dataset's models side by side.

table.py is `maskflow compare` (comparison.csv, comparison_groups.csv, comparison.png: one row
per model, replicates summarised, McNemar tests against the baseline); sweep.py is `maskflow
sweep` (one sweep's table, plot and overlaid learning curves).
"""
