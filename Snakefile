# maskflow: annotated photos -> trained, compared and explained image classifiers.
#
#   snakemake --cores 8 all                                   # the default experiment
#   snakemake --cores 2 all --configfile tests/config/tiny.yaml
#   snakemake --cores 1 results/masks/figures/cnn_baseline-s1/learning_curves.png
#
# This file is a table of contents: the stages live in workflow/rules/, their logic in the
# maskflow package (workflow/maskflow/), the settings in config.yaml.
from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the default experiment. A config named on the command line replaces it
# (`--configfile configs/fer2013.yaml` runs FER2013 alone); several named together still layer
# key by key, and `--config key=value` alone adjusts the default experiment.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/resources.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/arguments.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/track.smk"


rule all:
    default_target: True
    input:
        EXPERIMENT.all_targets(),
        TRACKING_PLAN.targets(),
