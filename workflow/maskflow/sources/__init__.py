"""Where a dataset's raw files come from: `maskflow fetch` and the source kinds it dispatches to.

- fetch.py: the command, the kind registry, the all-or-nothing raw folder and the manifest;
- download.py: one URL to one file (checksum, retries with backoff, Range resume, time-outs);
- local.py: folders copied or hard-linked, archives unpacked safely, files placed;
- sklearn_data.py: scikit-learn's bundled datasets as raw files;
- synthetic.py: generated medical-mask photos with box annotations.
"""
