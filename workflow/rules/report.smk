# The final report: one self-contained HTML file (results/report.html). Its inputs are every
# figure, table and metrics file of the experiment, so it is always the last job.
rule report:
    input:
        sorted(set(plan_paths(REPORT_PLAN["datasets"]))),
    output:
        report(
            "results/report.html",
            category="Report",
            caption="../report/report_html.rst",
        ),
    log:
        "results/logs/report.log",
    conda:
        CONDA_ENV
    params:
        plan=as_json(REPORT_PLAN),
    shell:
        "python -m maskflow report --plan {params.plan:q} --out {output:q} 2> {log:q}"
