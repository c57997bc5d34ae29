"""Latent features (`latent`): penultimate-layer features of the validation crops, per saved epoch.

Training saves the features at the epochs in `train.latent_epochs` (latent.npz). Each epoch is
a row: PCA and t-SNE projections (scikit-learn, seeded), coloured by true class; features of
two units (a 2-unit bottleneck) are plotted as they are. Without snapshots, the checkpoint's
final model is used. `maskflow figure latent --latent .../latent.npz --checkpoint ...
--cache-dir results/masks/cache --out ...`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from maskflow.figures.common import cached_crops, class_colors, load_model, message_figure

TSNE_MAX_POINTS = 3000  # t-SNE is quadratic-ish: a seeded subsample keeps big val splits quick
SEED = 0


def snapshots(job) -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """[(label, N x d features)], labels: from latent.npz, else from the final model."""
    with np.load(job.path("latent")) as data:
        epochs = [int(e) for e in data["epochs"]] if "epochs" in data else []
        if epochs:
            return [(f"epoch {e}", data[f"features_e{e}"]) for e in epochs], data["labels"]
    from maskflow.inference import Normalizer, as_nchw, forward_in_batches

    model, ckpt = load_model(job)
    crops, labels = cached_crops(job, "val")
    if not len(crops):
        return [], labels
    features = forward_in_batches(model.features, as_nchw(crops), Normalizer(ckpt["normalization"])).numpy()
    return [(f"final model (epoch {ckpt.get('epoch')})", features)], labels


def project(features: np.ndarray, method: str, perplexity: float) -> np.ndarray | None:
    """2-D projection, or None when there are too few points for the method."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    features = np.asarray(features, dtype=np.float64)
    if method == "pca":
        if len(features) < 2:
            return None
        points = PCA(n_components=min(2, features.shape[1]), random_state=SEED).fit_transform(features)
        return points if points.shape[1] == 2 else np.column_stack([points[:, 0], np.zeros(len(points))])
    if len(features) < 5:
        return None
    # t-SNE needs perplexity < n; a third of n keeps small splits meaningful.
    return TSNE(
        n_components=2, perplexity=min(perplexity, (len(features) - 1) / 3), init="pca", random_state=SEED
    ).fit_transform(features)


def _scatter(ax, points, labels, classes, title):
    colors = class_colors(len(classes))
    ax.set_title(title, fontsize=9)
    if points is None:
        ax.text(0.5, 0.5, "too few points", ha="center", va="center", transform=ax.transAxes)
        return
    for k, name in enumerate(classes):
        mask = labels == k
        if mask.any():
            ax.scatter(
                points[mask, 0],
                points[mask, 1],
                s=10,
                color=colors[k],
                label=f"{name} ({mask.sum()})",
                alpha=0.75,
                edgecolors="none",
            )
    ax.legend(fontsize=7, markerscale=1.5)
    ax.grid(alpha=0.2)


def render(job):
    shots, labels = snapshots(job)
    classes = job.classes or [str(k) for k in range(int(labels.max()) + 1 if len(labels) else 0)]
    title = f"{job.model}: penultimate-layer features of the validation crops"
    if not shots or not len(labels):
        return message_figure(title, "no validation crops to project")
    direct = shots[0][1].shape[1] <= 2
    methods = ["features"] if direct else ["pca", "tsne"]
    figure, axes = plt.subplots(
        len(shots), len(methods), figsize=(5.2 * len(methods), 4.4 * len(shots) + 0.5), squeeze=False
    )
    rng = np.random.default_rng(SEED)
    for row, (label, features) in enumerate(shots):
        for col, method in enumerate(methods):
            ax = axes[row, col]
            if method == "features":
                points = (
                    features if features.shape[1] == 2 else np.column_stack([features[:, 0], np.zeros(len(features))])
                )
                _scatter(ax, points, labels, classes, f"{label}: the {features.shape[1]} bottleneck units")
                ax.set_xlabel("unit 0")
                ax.set_ylabel("unit 1")
                continue
            keep = (
                np.sort(rng.choice(len(features), TSNE_MAX_POINTS, replace=False))
                if method == "tsne" and len(features) > TSNE_MAX_POINTS
                else slice(None)
            )
            points = project(features[keep], method, float(job.setting("tsne_perplexity")))
            name = "PCA" if method == "pca" else "t-SNE"
            _scatter(ax, points, labels[keep], classes, f"{label}: {name} of {features.shape[1]} features")
    figure.suptitle(title)
    figure.tight_layout()
    return figure
