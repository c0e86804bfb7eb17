"""`egov audit …`: read and verify the hash-chained audit trail."""

from __future__ import annotations

import json

import click

from api.cli.common import vietnam_time
from egov import audit as trail
from egov.db import get_database


@click.group()
def audit() -> None:
    """Nhật ký kiểm toán / audit trail."""


@audit.command("verify")
def verify() -> None:
    """Kiểm tra chuỗi băm / verify the hash chain; exits 1 if any record was edited or deleted."""
    with get_database().transaction() as session:
        result = trail.verify_chain(session)
    if result.ok:
        click.echo(f"Nhật ký toàn vẹn / audit trail intact: {result.records} records")
        return
    click.echo(f"NHẬT KÝ BỊ SỬA ĐỔI / AUDIT TRAIL TAMPERED: {result.problem}", err=True)
    raise click.exceptions.Exit(1)


@audit.command("list")
@click.option("--target", help="Only records about this target, e.g. certificate:<serial>.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_records(target: str | None, limit: int, as_json: bool) -> None:
    """Liệt kê bản ghi mới nhất / list the newest records."""
    with get_database().transaction() as session:
        records = trail.list_records(session, target=target, limit=limit)
    for record in records:
        if as_json:
            click.echo(json.dumps(record.to_dict(), ensure_ascii=False))
        else:
            click.echo(
                f"{record.seq:>6}  {vietnam_time(record.at)}  {record.actor:<20} {record.action:<22} {record.target}"
            )
