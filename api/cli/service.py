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


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (default: one per core, at least 2).")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Threads per worker (keep-alive connections); 1 = one request at a time per worker.")
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    """Chạy máy chủ HTTP / serve the web app: CRLs, OCSP, TSA, CA certificates, health."""
    from api.server import ensure_multiprocess_metrics
    from api.server import serve as run_server

    settings = get_settings()
    ensure_multiprocess_metrics(settings)
    click.echo(f"egov-trust: http://{host}:{port} (certificates point at {settings.public_base_url})", err=True)
    run_server(settings, host, port, workers=workers, threads=threads)


COMMANDS = [up, serve]
