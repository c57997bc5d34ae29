"""The evaluation stage: predictions, metrics and explanations of a model or ensemble, new photos."""
