# What each job asks of the machine it runs on: threads, GPUs, runtime, memory and the job group
# its jobs travel in on a cluster. Read by the train and evaluate rules' `threads:`, `resources:`
# and `group:`; the model registry (maskflow.models.train_needs) says what a model type can use,
# the model's `cluster:` block what its train and evaluate jobs need, profiles/slurm how a
# cluster is asked.


def train_needs(wildcards):
    """Threads and GPU use of the model a train job trains (the model registry says)."""
    return models.train_needs(named(MODELS, wildcards), THREADS["train"])


def local_gpu_slots(wildcards):
    """1 when the model will train on CUDA here (asked for, or `auto` on a machine showing a
    GPU), so the local profile's `local_gpu_slots` limit keeps concurrent train jobs off shared
    cards. Not the cluster's request: that is `gpu` (cluster_gpus)."""
    device = named(MODELS, wildcards)["device"]
    if not train_needs(wildcards).gpu:
        return 0
    return 1 if device == "cuda" or (device == "auto" and LOCAL_GPUS > 0) else 0


def cluster_gpus(wildcards):
    """`gpu`, the SLURM executor plugin's own resource (--gpus): 1 for a model that can use a
    GPU, 0 for the others (a NumPy model, `device: cpu`), which then never hold one."""
    return int(train_needs(wildcards).gpu)


def cluster_gpu_model(wildcards):
    """The model's `cluster: gpu_model` (--gpus=<model>:1), None (no resource) without a GPU."""
    if not train_needs(wildcards).gpu:
        return None
    return named(MODELS, wildcards)["cluster"].get("gpu_model")


def capped_runtime(minutes):
    """Never past the profile's cap (`cluster_max_runtime`): a retry past a partition's MaxTime
    is rejected or pends forever."""
    cap = MF["cluster_max_runtime"]
    return minutes if cap is None else min(minutes, cap)


def cluster_runtime(wildcards, attempt):
    """Minutes: the model's `cluster: runtime` times the attempt, capped (capped_runtime)."""
    return capped_runtime(named(MODELS, wildcards)["cluster"]["runtime"] * attempt)


def cluster_mem_mb(wildcards, attempt):
    return named(MODELS, wildcards)["cluster"]["mem_mb"] * attempt


# A model's evaluate job: its `cluster: evaluate` needs (a large network's forward passes over
# every split, on the CPU, outgrow the default-resources of the other jobs: fer_vgg64's peaks
# near 2.6 GB), x attempt, the runtime capped like a training's.
def evaluate_runtime(wildcards, attempt):
    return capped_runtime(
        named(MODELS, wildcards)["cluster"]["evaluate"]["runtime"] * attempt
    )


def evaluate_mem_mb(wildcards, attempt):
    return named(MODELS, wildcards)["cluster"]["evaluate"]["mem_mb"] * attempt


# The job group of the small jobs of a model that trains on the CPU: on a cluster, Snakemake
# joins `--group-components small_jobs=N` of them (a model's train and evaluate jobs) into one
# SLURM job (profiles/slurm). A model that can use a GPU keeps one job per training.
SMALL_JOBS = "small_jobs"


def small_job_group(wildcards):
    return None if train_needs(wildcards).gpu else SMALL_JOBS
