"""The `numpy_mlp` model type: a multilayer perceptron written from scratch in NumPy.

- `network`: activations, initialisations, forward pass, softmax cross-entropy and the
  hand-written backward pass; `check_arch` for the config stage (no torch import);
- `optim`: SGD (momentum, Nesterov) and Adam/AdamW with torch's update rules, LR schedules;
- `twin`: the equivalent torch module, so checkpoints, evaluation and saliency use the one
  torch inference path.

Its trainer (the numpy loop and the workflow's train stage for this type) is
`maskflow.training.numpy_mlp`.
"""
