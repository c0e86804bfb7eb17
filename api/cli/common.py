"""What every egov subcommand shares: the actor name, Vietnam-time formatting, and error reporting."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta, timezone

import click

from ca.keys import KeyError_
from egov.errors import Refusal
from egov.settings import SettingsError

VIETNAM = timezone(timedelta(hours=7), "ICT")
EXIT_REFUSED = 2


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


actor_option = click.option(
    "--actor", default=default_actor, show_default="cli:$USER", help="Who is acting, for the audit trail."
)


def vietnam_time(moment: datetime | None) -> str:
    """A time as people here read it: ISO 8601 in Vietnam time (+07:00)."""
    if moment is None:
        return "-"
    return moment.astimezone(VIETNAM).isoformat(timespec="seconds")


def run_guarded(group: click.Group) -> int:
    """Run the CLI; a refusal prints its bilingual message on stderr and exits 2, never a traceback."""
    try:
        # Without standalone mode click returns an Exit's code instead of raising it.
        outcome = group.main(standalone_mode=False)
        return outcome if isinstance(outcome, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Đã hủy / aborted", err=True)
        return 1
    except Refusal as exc:
        click.echo(f"Lỗi / error [{exc.code}]: {exc.vietnamese}\n  {exc.english}", err=True)
        return EXIT_REFUSED
    except (KeyError_, SettingsError) as exc:
        click.echo(f"Lỗi cấu hình / configuration error: {exc}", err=True)
        return EXIT_REFUSED
