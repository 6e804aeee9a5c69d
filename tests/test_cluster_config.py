"""Cluster YAML: the issue's SLURM example loads; mistakes name their key; job scripts render offline."""

from __future__ import annotations

import pytest
import yaml

from flint.cli import main
from flint.errors import ConfigError
from flint.prefect.cluster import describe, job_script, load_cluster_config
from flint.prefect.cluster.jobqueue import lifetime_args, walltime_seconds

ISSUE_EXAMPLE = """\
cluster_class: "dask_jobqueue.SLURMCluster"
cluster_kwargs:
    cores: 1
    processes: 1
    job_cpu: 8
    name: 'flint-worker'
    memory: "128GB"
    walltime: '0-24:00:00'
    job_extra_directives:
      - '--qos express'
      - '--no-requeue'
    interface: "ib0"
    log_directory: 'flint_logs'
    job_script_prologue:
      - 'module load singularity'
      - 'unset SINGULARITY_BINDPATH'
      - "export OMP_NUM_THREADS=${SLURM_CPUS_ON_NODE}"
    local_directory: $LOCALDIR
    silence_logs: 'info'
adapt_kwargs:
    minimum: 1
    maximum: 38
"""


def test_issue_example_renders_job_script_without_ib0_or_scheduler(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "slurm.yaml"
    path.write_text(ISSUE_EXAMPLE)
    config = load_cluster_config(path)
    assert config.adapt_kwargs.maximum == 38
    script = job_script(config)
    assert "#SBATCH --cpus-per-task=8" in script and "#SBATCH -t 0-24:00:00" in script
    assert "#SBATCH --qos express" in script and "--interface ib0" in script
    assert "--local-directory $LOCALDIR" in script
    assert "OMP_NUM_THREADS=${SLURM_CPUS_ON_NODE}" in script
    assert "--lifetime 85200s --lifetime-stagger 600s" in script
    assert "#SBATCH -e flint_logs/" in script
    assert not (tmp_path / "flint_logs").exists()  # checking creates nothing


def test_builtins_and_cli(capsys):
    local = load_cluster_config("local")
    assert isinstance(local.cluster_kwargs["n_workers"], int)
    assert main(["cluster", "check", "slurm"]) == 0
    assert "#SBATCH --no-requeue" in capsys.readouterr().out
    assert main(["cluster", "check", "local"]) == 0
    assert "job script" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"cluster_kwargs": {"cores": 1, "memory": "1GB", "coress": 2}}, "cluster_kwargs.coress"),
        ({"cluster_kwargs": {"cores": "eight", "memory": "1GB"}}, "cluster_kwargs.cores"),
        ({"cluster_kwargs": {"cores": 1, "memory": "lots"}}, "cluster_kwargs"),
        ({"cluster_class": "collections.OrderedDict"}, "cluster_class"),
        ({"cluster_class": "nope.Missing"}, "cluster_class"),
        ({"adapt_kwargs": {"minimum": 3, "maximum": 2}}, "adapt_kwargs"),
        ({"adapt_kwargs": {"maximun": 2}}, "adapt_kwargs.maximun"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_mistakes_name_their_key(tmp_path, change, key):
    base = {
        "cluster_class": "dask_jobqueue.SLURMCluster",
        "cluster_kwargs": {"cores": 1, "memory": "1GB"},
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**base, **change}))
    with pytest.raises(ConfigError) as error:
        load_cluster_config(path)
    assert any(problem.startswith(f"{key}:") for problem in error.value.problems), (
        error.value.problems
    )


def test_unsafe_yaml_and_unknown_local_keyword(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("cluster_class: !!python/name:os.system\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_cluster_config(path)
    path.write_text("cluster_kwargs: {n_worker: 2}\n")
    with pytest.raises(ConfigError, match=r"cluster_kwargs\.n_worker: .*did you mean n_workers"):
        load_cluster_config(path)


def test_walltimes_and_lifetimes():
    assert walltime_seconds("0-24:00:00") == walltime_seconds("24:00:00") == 86400
    assert walltime_seconds("10:00") == 600 and walltime_seconds("1-12") == 129600
    assert lifetime_args("01:00:00") == ["--lifetime", "3240s", "--lifetime-stagger", "180s"]
    with pytest.raises(ValueError):
        walltime_seconds("a day")


def test_describe_keeps_explicit_lifetime(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "cluster_class": "dask_jobqueue.SLURMCluster",
                "cluster_kwargs": {
                    "cores": 1,
                    "memory": "1GB",
                    "walltime": "01:00:00",
                    "worker_extra_args": ["--lifetime", "5m"],
                },
            }
        )
    )
    assert (
        describe(load_cluster_config(path)).count("--lifetime") == 2
    )  # kwargs + script, no default
