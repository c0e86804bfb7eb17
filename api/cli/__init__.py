"""The `egov` command: one group per area (`egov ca …`, `egov audit …`, …), thin over the packages."""

from __future__ import annotations

import sys

import click

from api.cli.common import run_guarded


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="egov-trust")
def cli() -> None:
    """egov-trust: định danh và chữ ký số cho Chính phủ điện tử / identity and signatures for e-government."""


def _register() -> None:
    from api.cli import audit, ca, idp, service, signing

    cli.add_command(ca.ca)
    cli.add_command(audit.audit)
    cli.add_command(idp.idp)
    for command in service.COMMANDS:
        cli.add_command(command)
    signing.register(cli)


_register()


def main() -> None:
    sys.exit(run_guarded(cli))
