"""One check shared by every helper that downloads: can this download happen at all?"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

from . import settings


def why_no_download(url: str, cached: Path | None = None, timeout: float = 3.0) -> str | None:
    """None when `cached` exists or `url`'s server answers; otherwise the reason, in a few words.

    Trying the server first makes an offline machine fail in seconds instead of hanging in a
    download, and lets the helper fall back with one clear line.
    """
    if cached is not None and Path(cached).is_file():
        return None
    if settings.offline():
        return "COURSE_OFFLINE is set"
    host = urlparse(url).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as error:
        return f"no connection to {host}: {type(error).__name__}"
    return None
