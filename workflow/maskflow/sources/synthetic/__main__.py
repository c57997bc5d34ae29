"""`python -m maskflow.sources.synthetic OUT_DIR --photos N --seed S`."""

from maskflow.sources.synthetic import main

main()
