"""Every model's config description reaches the report's model section, through the workflow.

Training strips descriptions (editing one retrains nothing), so a trained model's metrics.json
carries none: the report takes them from its plan, which Snakemake builds from the config.
Run: pytest -q tests/workflow/test_report_descriptions.py
"""

from __future__ import annotations

import html
import json

import pytest
import yaml

from maskflow.report.build import anchor

from helpers import TINY_CONFIG


def model_section(page: str, dataset: str, model: str) -> str:
    """The HTML of one model's section: from its heading to the next model heading."""
    start = page.index(f'id="{anchor("model", dataset, model)}"')
    end = page.find("<h3 ", start)
    return page[start : end if end != -1 else len(page)]


@pytest.mark.workflow
def test_a_trained_models_description_is_in_its_report_section(tiny_run):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    description = config["models"]["seq"]["description"]
    assert description  # the tiny config describes this trained model
    metrics = json.loads((tiny_run / "results/masks/models/seq/metrics.json").read_text())
    assert description not in json.dumps(metrics)  # so the report cannot have it from there

    page = (tiny_run / "results" / "report.html").read_text(encoding="utf-8")
    assert f"<p>{html.escape(description)}</p>" in model_section(page, "masks", "seq")
    # an undescribed model gets no paragraph of another's
    assert html.escape(description) not in model_section(page, "masks", "mlp")
