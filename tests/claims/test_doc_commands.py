"""Every command the README and docs/ show in a shell block is run by a named test, or its line
says that the tests do not run it (issue 25.10). A new command in a document fails this test
until it gets one or the other; a test named here that no longer exists fails it too.

    .venv/bin/pytest -q tests/claims/test_doc_commands.py
"""

from __future__ import annotations

import re

import pytest

from helpers import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCK = re.compile(r"^```(?:bash|sh|console)\n(.*?)^```", re.S | re.M)
NOT_RUN = "not run by the tests"

# command (as shown, without its comment) -> the test that runs it (file::function), as users
# type it or with only the working folder and a tiny config changed
TESTED = {
    "make test": "tests/workflow/test_required_system_tests.py::test_make_test_requires_the_system_tests_as_root",
    "snakemake --cores 2 all --configfile tests/config/tiny.yaml": "tests/conftest.py::tiny_run",
    "snakemake --cores 1 results/masks/figures/cnn_5x5/learning_curves.png": (
        "tests/workflow/test_example_paths.py::test_every_example_path_is_planned"
    ),
    "snakemake -n all": "tests/workflow/test_targets.py::test_dry_run_after_a_full_run_schedules_nothing",
    "snakemake --report results/snakemake_report.zip": "tests/unit/report/test_report.py::test_snakemake_report_zip",
    "snakemake all --profile profiles/slurm": "tests/workflow/test_slurm.py::test_tiny_workflow_on_slurm_resumes_cancelled_and_preempted_training",
    "maskflow history --dataset masks": "tests/workflow/test_tracking.py::test_an_edit_adds_one_run_and_history_shows_the_change",
    "maskflow history --dataset masks --model cnn_baseline-s1": (
        "tests/workflow/test_tracking.py::test_an_edit_adds_one_run_and_history_shows_the_change"
    ),
    # on the one-node cluster, without the `gpu` partition it does not have
    'srun -p gpu --gpus=1 -t 5 .venv/bin/python -c "import torch; print(torch.cuda.is_available(), torch.version.cuda)"': (
        "tests/workflow/test_slurm.py::test_the_cluster_guide_step_by_step"
    ),
    ".venv/bin/pip install -e '.[slurm]'": "tests/workflow/test_slurm.py::test_the_cluster_guide_step_by_step",
    "cp -r profiles/slurm profiles/my-cluster": "tests/workflow/test_slurm.py::test_the_cluster_guide_step_by_step",
    "snakemake all --profile profiles/my-cluster -n": "tests/workflow/test_slurm.py::test_the_cluster_guide_step_by_step",
    "snakemake all --profile profiles/my-cluster": "tests/workflow/test_slurm.py::test_the_cluster_guide_step_by_step",
    'squeue --me -o "%.10i %.9P %.40k %.8T %.10M %R"': "tests/workflow/test_slurm.py::test_the_cluster_guide_step_by_step",
    "scancel --name <the run ID printed at start>": "tests/workflow/test_slurm.py::test_the_cluster_guide_step_by_step",
    "snakemake all --profile profiles/my-cluster --unlock": "tests/workflow/test_slurm.py::test_the_cluster_guide_step_by_step",
    "snakemake all --profile profiles/my-cluster --rerun-incomplete": "tests/workflow/test_slurm.py::test_the_cluster_guide_step_by_step",
    "maskflow history --dataset masks --format markdown": "tests/unit/tracking/test_tracking_history.py::test_formats",
    "python -m maskflow.config configs/fer2013.yaml my-paths.yaml": (
        "tests/unit/test_config_guards.py::test_files_layer_key_by_key_as_configfile_does"
    ),
    "python -m maskflow.config --quiet": "tests/unit/test_config_guards.py::test_files_layer_key_by_key_as_configfile_does",
    "python -m maskflow.config --no-data-check configs/fer2013.yaml": (
        "tests/unit/test_config_guards.py::test_data_presence_can_be_left_unchecked"
    ),
    "python -m maskflow.config --help": "tests/unit/test_config_guards.py::test_help_describes_the_command",
    "maskflow predict --checkpoint results/masks/models/cnn_5x5/checkpoint.pt": (
        "tests/unit/evaluation/test_predict.py::test_predicting_the_test_photos_reproduces_the_workflow_evaluation"
    ),
    "snakemake --cores 8 all --configfile configs/fer2013.yaml": (
        "tests/workflow/test_presets.py::test_every_preset_plans_its_whole_dag_on_a_standin_at_its_default_place"
    ),
    "snakemake --cores 8 all --configfile configs/fer2013.yaml my-paths.yaml": (
        "tests/workflow/test_presets.py::test_fer2013_preset_runs_on_a_standin_given_elsewhere"
    ),
}


def shown_commands() -> list[tuple[str, str, str]]:
    """(page, command, its comment) of every command line in a shell block; a line ending in `\\`
    continues, and the command is its first line."""
    found = []
    for page in PAGES:
        for block in SHELL_BLOCK.findall(page.read_text(encoding="utf-8")):
            continued = False
            for line in block.splitlines():
                stripped = line.strip()
                if continued or not stripped or stripped.startswith("#"):
                    continued = continued and stripped.endswith("\\")
                    continue
                command, *comment = re.split(r"\s+#\s*", stripped, maxsplit=1)
                command = command.rstrip(" \\")
                continued = stripped.endswith("\\")
                found.append((str(page.relative_to(ROOT)), command.strip(), "".join(comment).strip()))
    return found


def test_the_documents_show_commands():
    assert len(shown_commands()) > 10


@pytest.mark.parametrize("page, command, comment", shown_commands(), ids=lambda value: value[:60])
def test_each_shown_command_is_tested_or_says_it_is_not(page, command, comment):
    assert command in TESTED or NOT_RUN in comment, (
        f"{page}: `{command}` is run by no test named in tests/claims/test_doc_commands.py, and its "
        f"comment does not say '{NOT_RUN}'"
    )


@pytest.mark.parametrize("test", sorted(set(TESTED.values())))
def test_each_named_test_exists(test):
    path, name = test.split("::")
    source = (ROOT / path).read_text(encoding="utf-8")
    assert re.search(rf"^def {name}\(", source, re.M), f"{test}: no such test"
