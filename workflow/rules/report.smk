# The final report: one self-contained HTML file (results/report.html). Its inputs are every
# figure, table and metrics file of the experiment, so it is always the last job.
from maskflow.report.plan import build_plan, plan_paths

# What the report shows and where each file is (maskflow.report.plan), built from the resolved
# config as Snakemake reads the workflow.
REPORT_PLAN = build_plan(
    MF,
    config,
    configfiles=workflow.overwrite_configfiles or workflow.configfiles,
    repo_dir=workflow.basedir,
)


# The run's --cores, for the report's Reproduce line (maskflow.report.build), through the
# environment jobs inherit: as a param it would rerun the report whenever the count changes.
os.environ.update(MASKFLOW_CORES=str(workflow.cores))


# The plan goes through a file: for hundreds of models it outgrows the 128 KiB a single
# command-line argument may hold. Written by the Snakemake process itself (a run: block), so it
# reruns exactly when the plan's params change.
rule report_plan:
    output:
        layout.REPORT["plan"],
    log:
        "results/logs/report_plan.log",
    params:
        plan=as_json(REPORT_PLAN),
    run:
        from maskflow.io.atomic import write_text

        write_text(output[0], params.plan)


rule report:
    input:
        files=plan_paths(REPORT_PLAN),
        plan=layout.REPORT["plan"],
    output:
        report(
            layout.REPORT["html"],
            category="Report",
            caption="../report/report_html.rst",
        ),
    log:
        "results/logs/report.log",
    conda:
        CONDA_ENV
    threads: THREADS["report"]
    shell:
        "python -m maskflow report --plan {input.plan:q} --out {output:q} --threads {threads} 2> {log:q}"
