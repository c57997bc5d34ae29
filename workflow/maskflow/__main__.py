"""`python -m maskflow ...` is the same as the `maskflow` console command, and is how the workflow
runs every job; a job that succeeded ends without the interpreter's teardown
(maskflow.runtime.fast_exit: 0.4 CPU s of every torch job)."""

from maskflow.cli import main
from maskflow.runtime.fast_exit import exit_without_teardown

main()
exit_without_teardown()
