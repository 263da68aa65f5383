"""Fetching a dataset file over HTTP(S) into a directory, checked against its MD5."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

_TIMEOUT_SECONDS = 60


def fetch(url: str) -> bytes:
    """The bytes at url."""
    with urllib.request.urlopen(url, timeout=_TIMEOUT_SECONDS) as response:
        return response.read()


def md5_hex(payload: bytes) -> str:
    return hashlib.md5(payload, usedforsecurity=False).hexdigest()


def download_file(filename: str, mirrors: Sequence[str], md5: str, root: Path) -> Path:
    """Download `filename` from the first mirror that serves it with the expected MD5 and
    save it as root/filename (written to a temporary name first, so a failed download never
    leaves a partial file behind). Raises RuntimeError listing what each mirror answered."""
    root.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror + filename
        try:
            payload = fetch(url)
        except (urllib.error.URLError, OSError) as error:
            failures.append(f"{url}: {error}")
            continue
        digest = md5_hex(payload)
        if digest != md5:
            failures.append(f"{url}: MD5 {digest}, expected {md5}")
            continue
        target = root / filename
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(payload)
        partial.replace(target)
        return target
    raise RuntimeError(f"could not download {filename}:\n  " + "\n  ".join(failures))
