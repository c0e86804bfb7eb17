"""`egov up`: start the platform on its embedded defaults and print what it made."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from api.cli.common import actor_option
from egov.settings import Settings, get_settings, reset_settings

if TYPE_CHECKING:
    from deploy.local import LocalPorts, StartedStack


@click.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              help="Port of the app (gunicorn on 127.0.0.1); EGOV_PUBLIC_BASE_URL becomes its URL.")
@click.option("--portal-dvc-port", type=click.IntRange(1, 65535), default=5001, show_default=True,
              help="Port of the demo 'Cổng Dịch vụ công'.")
@click.option("--portal-motcua-port", type=click.IntRange(1, 65535), default=5002, show_default=True,
              help="Port of the demo 'Hệ thống Một cửa'.")
@actor_option
def up(port: int, portal_dvc_port: int, portal_motcua_port: int, actor: str) -> None:
    """Khởi động dịch vụ / start everything on embedded defaults (Keycloak, realms, CA, demo credentials, the app,
    the demo portals), print the URLs and demo users, and run until Ctrl-C or SIGTERM."""
    from deploy.keycloak.launcher import KeycloakError
    from deploy.local import LocalPorts, LocalStack, StackError, signals_as_interrupts, signals_ignored

    ports = LocalPorts(app=port, portal_dvc=portal_dvc_port, portal_motcua=portal_motcua_port)
    # The certificates' AIA/CDP URLs and the signing desk's redirect URI must lead to the app we start.
    os.environ["EGOV_PUBLIC_BASE_URL"] = ports.app_url
    reset_settings()
    settings = get_settings()
    click.echo(f"egov-trust: thư mục dữ liệu / data directory {settings.data_dir}")
    stack = LocalStack(settings, ports, click.echo, actor)
    failure: str | None = None
    with signals_as_interrupts():
        try:
            started = stack.start()
            print_summary(settings, ports, started)
            click.echo("Sẵn sàng / ready — Ctrl-C để dừng / to stop")
            stack.supervise()
        except KeyboardInterrupt:
            click.echo("\nĐang dừng / stopping …")
        except (StackError, KeycloakError) as exc:
            failure = str(exc)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the children must not outlive us
            failure = f"{type(exc).__name__}: {exc}"
        finally:
            with signals_ignored():
                stack.stop()
    if failure:
        raise click.ClickException(f"egov up dừng vì lỗi / stopped on an error:\n{failure}")
    click.echo("Đã dừng tất cả / everything stopped")


def print_summary(settings: Settings, ports: LocalPorts, started: StartedStack) -> None:
    """The table `egov up` prints once everything answers (tests/support/stack.py parses it: keep the layout)."""
    from deploy.local import DEMO_ROLES, endpoint_urls
    from idp.realm import VNEID_REALM

    echo = click.echo
    created = f"{started.ca_created} chứng thư mới tạo / certificates created now" if started.ca_created \
        else "đã có, dùng lại / already set up, reused"
    echo(f"CA: {created}; gốc / root SHA-256 {started.root_sha256}")
    echo(f"Chứng thư CA đã xuất / CA certificates exported: {started.exported_to}")
    echo("Chứng thư ký từ xa demo / demo signing credentials:")
    for held in started.credentials:
        state = "mới cấp / enrolled now" if held.enrolled_now else "đã có / existing"
        echo(f"  {held.username:<10} {held.credential_id:<22} {held.profile:<12} {held.serial}  {state}")
    echo("")
    echo("Địa chỉ / URLs:")
    urls = endpoint_urls(settings, ports)
    width = max(len(endpoint.label) for endpoint, _ in urls) + 2
    for endpoint, url in urls:
        echo(f"  {endpoint.label:<{width}}{url}")
    admin_password = "EGOV_KEYCLOAK_ADMIN_PASSWORD" if settings.keycloak_admin_password \
        else settings.data_dir / "secrets" / "keycloak-admin-password"
    echo(f"  (quản trị Keycloak / Keycloak admin: {settings.keycloak_admin}, mật khẩu trong / password in "
         f"{admin_password})")
    echo("")
    echo("Người dùng demo / demo users (sinh riêng cho thư mục dữ liệu này, chỉ để thử / generated for this data "
         "directory, demo only):")
    rows = [("tên / username", "mật khẩu / password", "OTP (ứng dụng xác thực / authenticator)", "vai trò / role")]
    for user in started.demo_users:
        role = "vneid" if user.realm == VNEID_REALM else user.roles[-1]
        vietnamese, english = DEMO_ROLES[role]
        rows.append((user.username, user.password, user.otp_secret or "-", f"{vietnamese} / {english}"))
    widths = [max(len(row[i]) for row in rows) + 2 for i in range(3)]
    for row in rows:
        echo("  " + "".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + row[3])
    echo(f"  (VNeID: đăng nhập qua nút / log in through the button at {ports.portal_dvc_url}/login?idp=vneid)")
    echo(f"Nhật ký / logs: {settings.data_dir / 'logs'}, Keycloak {settings.data_dir / 'keycloak' / 'keycloak.log'}")


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
