"""The report stage: one self-contained HTML page from the workflow's results."""
