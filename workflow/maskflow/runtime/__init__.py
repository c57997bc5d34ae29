"""Where a job runs: CPU threads and OpenMP waits, the torch device, GPU slots."""
