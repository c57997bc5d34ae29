"""The evaluation stage: predictions, metrics, model comparison, sweeps, new photos."""
