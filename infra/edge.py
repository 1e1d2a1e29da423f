"""Which edge ``mamori run`` puts in front of the services, and how it starts nginx.

``MAMORI_EDGE=auto`` (the default) uses nginx when it is installed and the Python gateway
otherwise; ``nginx`` insists on nginx, ``python`` on the Python gateway. Debian installs nginx
in ``/usr/sbin``, which is often not on a user's PATH, so that is looked in too.

nginx runs as the current user, without root: its configuration, pid file and temporary files
live in ``<data dir>/edge``, its logs in ``<data dir>/logs``. When the current user is root,
the configuration says so (``user root``), so nginx does not switch to ``nobody``, who could not
write there.
"""

from __future__ import annotations

import getpass
import os
import shutil
from pathlib import Path
from typing import Literal

from gateway.nginx import EdgeLayout, render
from mamori_common.settings import CommonSettings

#: Where distributions put nginx when it is not on PATH.
SYSTEM_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin")

EdgeKind = Literal["nginx", "python"]


class EdgeSettings(CommonSettings):
    """``MAMORI_EDGE``: which edge ``mamori run`` starts."""

    edge: Literal["auto", "nginx", "python"] = "auto"


def find_nginx() -> str | None:
    """The nginx executable: on PATH, else in the system directories."""
    return shutil.which("nginx") or shutil.which("nginx", path=os.pathsep.join(SYSTEM_DIRS))


def choose_edge(wanted: str, nginx: str | None) -> EdgeKind:
    """The edge to start for ``MAMORI_EDGE=wanted`` when nginx is at ``nginx`` (or absent)."""
    if wanted == "python":
        return "python"
    if nginx is None:
        if wanted == "nginx":
            raise RuntimeError("MAMORI_EDGE=nginx, but no nginx was found on PATH or in " + ", ".join(SYSTEM_DIRS))
        return "python"
    return "nginx"


def run_as() -> str | None:
    """The ``user`` nginx must keep when started as root; None otherwise (the directive is moot)."""
    return getpass.getuser() if os.geteuid() == 0 else None


def write_config(layout: EdgeLayout) -> Path:
    """Render ``layout`` into ``nginx.conf`` in its runtime dir; returns the file's path."""
    runtime_dir = Path(layout.runtime_dir)
    runtime_dir.mkdir(parents=True, exist_ok=True)
    path = runtime_dir / "nginx.conf"
    path.write_text(render(layout))
    return path


def nginx_command(nginx: str, config: Path) -> list[str]:
    """nginx in the foreground with its own prefix; ``-e`` keeps it off the system's error log."""
    runtime_dir = config.parent
    return [nginx, "-p", str(runtime_dir), "-c", str(config), "-e", str(runtime_dir / "startup-error.log")]
