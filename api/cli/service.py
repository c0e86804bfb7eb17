"""`egov up`: start the platform on its embedded defaults and print what it made."""

from __future__ import annotations

import click

from api.cli.common import actor_option
from ca.authority import CA_SLUGS, CertificateAuthority
from egov.settings import get_settings


@click.command("up")
@actor_option
def up(actor: str) -> None:
    """Khởi động dịch vụ / set up everything on embedded defaults and print the URLs."""
    settings = get_settings()
    authority = CertificateAuthority(settings)
    created = authority.init_hierarchy(actor)
    click.echo(f"Thư mục dữ liệu / data directory: {settings.data_dir}")
    click.echo(f"Cơ sở dữ liệu / database: {settings.database_url}")
    click.echo(f"CA: {len(created)} certificates created now" if created else "CA: already set up")
    for role in CA_SLUGS:
        record = authority.require_role(role)
        click.echo(f"  {role:<24} {record.serial}  {record.subject}")
    exported = authority.export(settings.data_dir / "public")
    click.echo(f"Chứng thư CA đã xuất / CA certificates exported: {exported[0].parent}")


COMMANDS = [up]
