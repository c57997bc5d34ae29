# Argument files (maskflow.arguments): the lists of files a compare, sweep or run-history job
# reads for every model of a dataset or a sweep, one per line, which its command takes as `@file`:
# on the command line, about 1,100 models' paths outgrow the 128 KiB one argument may hold.
# Written by the Snakemake process itself (run:), so a list is rewritten exactly when it changes
# (params), and the jobs reading it rerun then, as they would for the files it names.
from maskflow import arguments


localrules:
    argument_file,


rule argument_file:
    output:
        layout.ARGUMENTS,
    log:
        "results/{dataset}/logs/arguments/{name}.log",
    wildcard_constraints:
        name=r"[A-Za-z0-9_]+",
    params:
        lines=lambda wc: arguments.lines(wc.name, wc.dataset, EXPERIMENT, TRACKING_PLAN),
    run:
        from maskflow.io.atomic import write_text

        write_text(output[0], "".join(f"{line}\n" for line in params.lines))
