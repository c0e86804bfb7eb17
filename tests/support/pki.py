"""Helpers for checking certificates with the peers: write PEM files, run openssl and pkilint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


def write_pem(path: Path, certificates: Iterable[x509.Certificate]) -> Path:
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certificates))
    return path


def openssl(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def pkilint_tool(name: str) -> str:
    """A pkilint console script from this interpreter's environment."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def lint_certificate(path: Path) -> subprocess.CompletedProcess[str]:
    """pkilint's RFC 5280 linter at WARNING level: exit code = number of findings at or above it."""
    return subprocess.run(
        [pkilint_tool("lint_pkix_cert"), "lint", "-s", "WARNING", str(path)],
        capture_output=True, text=True, timeout=120,
    )
