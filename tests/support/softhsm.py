"""A real SoftHSM2 token for the tests, in its own token directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)


@dataclass(frozen=True)
class SoftHsmToken:
    module: str
    label: str
    pin: str
    directory: Path


def create_token(label: str = "egov-test", pin: str = "48213579") -> SoftHsmToken:
    """Initialise a fresh token; SOFTHSM2_CONF is set for this process (the library reads it when loaded)."""
    if shutil.which("softhsm2-util") is None:
        if os.geteuid() != 0:
            raise RuntimeError("softhsm2 is not installed and we are not root: run scripts/bootstrap")
        subprocess.run(["apt-get", "install", "-y", "-qq", "softhsm2"], check=True, capture_output=True)
    module = next((m for m in MODULE_CANDIDATES if Path(m).exists()), None)
    if module is None:
        raise RuntimeError("libsofthsm2.so not found")
    directory = Path(tempfile.mkdtemp(prefix="egov-softhsm-"))
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "93570000"],
        check=True, capture_output=True,
    )
    return SoftHsmToken(module, label, pin, directory)
