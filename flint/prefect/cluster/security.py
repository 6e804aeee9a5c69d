"""Dask TLS: clusters whose scheduler listens beyond loopback encrypt and authenticate.

Each cluster gets its own temporary credentials (distributed's ``Security.temporary``: a
CA and one certificate for scheduler, workers and clients), written to a private
directory (mode 0700, files 0600) that batch jobs can read (``shared_temp_directory``,
else the log directory, else the working directory), and removed when the cluster goes.
Clients in this process and in the processes it starts (a serve runner) find them through
distributed's configuration (``DASK_DISTRIBUTED__COMM__TLS__*``).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from flint.prefect.cluster.config import ClusterConfig

logger = logging.getLogger(__name__)

TLS_ENV = {
    "ca": "DASK_DISTRIBUTED__COMM__TLS__CA_FILE",
    "cert": "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT",
    "key": "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY",
    "require": "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION",
}
LOOPBACK_INTERFACES = {"lo", "lo0"}


def _is_loopback_host(host: str | None) -> bool:
    if host in (None, ""):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split(":")[0]).is_loopback
    except ValueError:
        return False


def scheduler_on_loopback(config: ClusterConfig, kwargs: dict[str, Any]) -> bool:
    """Whether the scheduler listens on loopback only (from its host or interface)."""
    options = dict(kwargs.get("scheduler_options") or {})
    interface = options.get("interface", kwargs.get("interface"))
    host = options.get("host", kwargs.get("host"))
    if interface is not None:
        return interface in LOOPBACK_INTERFACES
    if config.is_jobqueue:
        return _is_loopback_host(host)  # jobqueue's default listens on every interface
    return host is None or _is_loopback_host(host)  # LocalCluster's default is 127.0.0.1


def needs_tls(config: ClusterConfig, kwargs: dict[str, Any]) -> bool:
    """``tls: on``, or ``auto`` with a scheduler reachable beyond loopback."""
    if config.tls == "auto":
        return not scheduler_on_loopback(config, kwargs)
    return config.tls == "on"


def credentials_directory(config: ClusterConfig, kwargs: dict[str, Any]) -> Path:
    """Where this cluster's credentials go: somewhere its batch jobs can read."""
    import dask

    base = kwargs.get("shared_temp_directory")
    if base is None and config.is_jobqueue:
        from flint.prefect.cluster.config import resolve_cluster_class

        name = resolve_cluster_class(config.cluster_class).job_cls.config_name
        base = dask.config.get(f"jobqueue.{name}.shared_temp_directory", None)
        base = base or kwargs.get("log_directory")
    base = Path(os.path.expandvars(os.path.expanduser(str(base or ".")))).absolute()
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".flint-tls-", dir=base))  # mode 0700


def temporary_security(directory: Path):
    """Fresh credentials as files in ``directory`` (0600); a Security that uses them."""
    from distributed.security import Security

    fresh = Security.temporary()
    files = {}
    for name, pem in (
        ("ca.pem", fresh.tls_ca_file),
        ("cert.pem", fresh.tls_scheduler_cert),
        ("key.pem", fresh.tls_scheduler_key),
    ):
        path = directory / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(pem)
        files[name] = str(path)
    cert, key = files["cert.pem"], files["key.pem"]
    return Security(
        tls_ca_file=files["ca.pem"],
        tls_scheduler_cert=cert, tls_scheduler_key=key,
        tls_worker_cert=cert, tls_worker_key=key,
        tls_client_cert=cert, tls_client_key=key,
        require_encryption=True,
    )  # fmt: skip


def export_client_tls(security) -> None:
    """Make clients here and in child processes use ``security``'s CA and client certificate."""
    import dask

    values = {
        TLS_ENV["ca"]: security.tls_ca_file,
        TLS_ENV["cert"]: security.tls_client_cert,
        TLS_ENV["key"]: security.tls_client_key,
        TLS_ENV["require"]: "True",
    }
    os.environ.update(values)
    dask.config.set(
        {
            "distributed.comm.tls.ca-file": security.tls_ca_file,
            "distributed.comm.tls.client.cert": security.tls_client_cert,
            "distributed.comm.tls.client.key": security.tls_client_key,
            "distributed.comm.require-encryption": True,
        }
    )


def secure(config: ClusterConfig, kwargs: dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
    """``kwargs`` with TLS added when :func:`needs_tls`; the credentials directory (or None).

    The caller removes the directory when the cluster is closed (:func:`remove_with`).
    """
    if not needs_tls(config, kwargs) or kwargs.get("security") is not None:
        return kwargs, None
    directory = credentials_directory(config, kwargs)
    security = temporary_security(directory)
    export_client_tls(security)
    logger.info("Dask traffic of this cluster uses TLS (credentials in %s)", directory)
    return {**kwargs, "security": security, "protocol": "tls://"}, directory


def remove_with(owner: object, directory: Path | None) -> None:
    """Remove ``directory`` when ``owner`` (a cluster) is garbage collected or at exit."""
    if directory is not None:
        weakref.finalize(owner, shutil.rmtree, directory, True)
