"""`egov idp …`: run the local Keycloak (up, down, status), apply the realms as code, serve the demo portals."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import click

from deploy.keycloak.launcher import KeycloakConfig, KeycloakError, KeycloakLauncher
from egov.settings import Settings, get_settings

if TYPE_CHECKING:
    from idp.realm import RealmPlan


def _launcher(settings: Settings) -> KeycloakLauncher:
    return KeycloakLauncher(KeycloakConfig.from_settings(settings))


def realm_plan(settings: Settings, portal_dvc: str, portal_motcua: str, signing_desk: str | None) -> RealmPlan:
    """What `apply` makes for these portal URLs; demo secrets are generated once into the data dir, and each
    client's secret is the one the app sends (`Settings.keycloak_client_secret`: configured, else generated)."""
    from idp.demo_portals import PORTALS
    from idp.realm import PortalClient, RealmPlan

    urls = (portal_dvc.rstrip("/"), portal_motcua.rstrip("/"))
    portals = tuple(PortalClient(cid, vi, url) for (cid, vi, _), url in zip(PORTALS, urls, strict=True))
    desk = signing_desk or f"{settings.public_base_url}/desk"  # the desk's pages live under /desk/ (api/desk_pages.py)
    return RealmPlan(settings.keycloak_url, portals, desk.rstrip("/"), settings.stored_secret,
                     settings.keycloak_client_secret)


portal_options = [
    click.option("--portal-dvc", default="http://127.0.0.1:5001", show_default=True,
                 help="Base URL of the demo 'Cổng Dịch vụ công'."),
    click.option("--portal-motcua", default="http://127.0.0.1:5002", show_default=True,
                 help="Base URL of the demo 'Hệ thống Một cửa'."),
]


def _with_portal_options(command):  # noqa: ANN001, ANN202
    for option in reversed(portal_options):
        command = option(command)
    return command


@click.group()
def idp() -> None:
    """Đăng nhập một lần / single sign-on (Keycloak, realms egov and vneid)."""


@idp.command()
def up() -> None:
    """Khởi động Keycloak / fetch (once) and start Keycloak on loopback, wait until ready."""
    settings = get_settings()
    launcher = _launcher(settings)
    try:
        status = launcher.start()
    except KeycloakError as exc:
        raise click.ClickException(f"Keycloak không khởi động được / could not start:\n{exc}") from exc
    click.echo(f"Keycloak sẵn sàng / ready: {status.url} (pid {status.pid})")
    click.echo(f"quản trị / admin console: {status.url}/admin  user: {settings.keycloak_admin}")
    if not settings.keycloak_admin_password:
        click.echo(f"mật khẩu quản trị / admin password: {settings.data_dir / 'secrets' / 'keycloak-admin-password'}")


@idp.command()
def down() -> None:
    """Dừng Keycloak / stop the Keycloak this data dir started."""
    if _launcher(get_settings()).stop():
        click.echo("đã dừng / stopped")
    else:
        click.echo("Keycloak không chạy / was not running")


@idp.command()
def status() -> None:
    """Trạng thái / is Keycloak running and ready (exit 3 when not)."""
    current = _launcher(get_settings()).status()
    state = "sẵn sàng / ready" if current.ready else "đang chạy / running, not ready" if current.running \
        else "không chạy / not running"
    click.echo(f"{state}  {current.url}" + (f"  pid {current.pid}" if current.pid else ""))
    if not current.ready:
        raise click.exceptions.Exit(3)


@idp.command()
@_with_portal_options
@click.option("--signing-desk", help="Base URL of the signing desk (default: EGOV_PUBLIC_BASE_URL/desk).")
def apply(portal_dvc: str, portal_motcua: str, signing_desk: str | None) -> None:
    """Áp dụng realm / create or update realms egov and vneid (idempotent); prints the demo users."""
    from idp.otp import otpauth_uri
    from idp.realm import RealmError, admin_client, apply_realms

    settings = get_settings()
    admin = admin_client(settings.keycloak_url, settings.keycloak_admin, settings.keycloak_admin_secret(), "master")
    try:
        applied = apply_realms(realm_plan(settings, portal_dvc, portal_motcua, signing_desk), admin)
    except RealmError as exc:
        raise click.ClickException(str(exc)) from exc
    for name in applied.created:
        click.echo(f"đã tạo / created realm {name}")
    for name in applied.updated:
        click.echo(f"đã cập nhật / updated realm {name}")
    click.echo("Người dùng demo / demo users (chỉ để thử / for the demo only):")
    for user in applied.demo_users:
        line = f"  [{user.realm}] {user.username:<14} mật khẩu/password: {user.password}"
        if user.otp_secret:
            line += f"\n      OTP: {user.otp_secret}  {otpauth_uri(user.otp_secret, user.username)}"
        if user.id_number:
            line += f"\n      so_dinh_danh: {user.id_number}"
        click.echo(line)


@idp.command()
@_with_portal_options
def portals(portal_dvc: str, portal_motcua: str) -> None:
    """Chạy hai cổng demo / serve both demo portals on 127.0.0.1 until Ctrl-C."""
    from urllib.parse import urlsplit

    from idp.demo_portals import PORTALS, Portal, PortalServer
    from idp.oidc import ProviderEndpoints

    settings = get_settings()
    plan = realm_plan(settings, portal_dvc, portal_motcua, None)
    endpoints = ProviderEndpoints.discover(f"{settings.keycloak_url}/realms/egov")
    servers = []
    for client, (_, _, english) in zip(plan.portals, PORTALS, strict=True):
        port = urlsplit(client.base_url).port or 80
        others = tuple((p.name, f"{p.base_url}/login") for p in plan.portals if p != client)
        portal = Portal(client, english, plan.client_secret(client.client_id), endpoints, links=others)
        servers.append(PortalServer(portal, port).start())
        click.echo(f"{client.name} / {english}: {client.base_url}/")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()
