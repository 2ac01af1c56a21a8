"""The command line of the contract: `flask --app wsgi <command>`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import clock, db


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(content_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(org_cli)
    app.cli.add_command(leaderboards_cli)
    app.cli.add_command(insights_cli)
    app.cli.add_command(competitions_cli)
    app.cli.add_command(interop_cli)

    from app.notifications.worker import worker_command

    app.cli.add_command(worker_command)


db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations (Alembic)."""
    from app.migrate import upgrade

    upgrade(current_app.extensions["engine"], revision)
    click.echo(f"Database upgraded to {revision}.")


content_cli = AppGroup("content", help="Content packages.")


@content_cli.command("import")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--org", "org_slug", default="demo", show_default=True)
def content_import(path: str, org_slug: str) -> None:
    """Import the content package in PATH into one organisation (all or nothing)."""
    from sqlalchemy import select

    from app.content.service import read_package_folder
    from app.editor.service import import_files
    from app.media.storage import LocalMediaStorage
    from app.orgs.models import Organization

    session = db.session()
    org = session.scalar(select(Organization).where(Organization.slug == org_slug))
    if org is None:
        # Seeding would create users with the published demo password: never in production.
        if org_slug != "demo" or current_app.config["ENV_NAME"] == "production":
            raise click.ClickException(f"No organization {org_slug!r}.")
        from app.demo.seed import seed_demo

        seed_demo(session)  # `make run` imports before seeding: the demo org must exist
        org = session.scalar(select(Organization).where(Organization.slug == org_slug))
        assert org is not None
    report = import_files(
        session,
        org=org,
        files=read_package_folder(path),
        storage=LocalMediaStorage(current_app.config["MEDIA_DIR"]),
        imported_by=None,
        now=clock.now(),
    )
    for warning in report.warnings:
        where = warning["file"] or "package"
        where += f" {warning['field']}" if warning.get("field") else ""
        click.echo(f"warning: {where}: {warning['message']}", err=True)
    if report.errors:
        session.rollback()
        for error in report.errors:
            where = f"{error['file']}" + (f" {error['field']}" if error.get("field") else "")
            click.echo(f"error: {where}: {error['message']}", err=True)
        raise click.ClickException(f"{len(report.errors)} error(s); nothing was imported.")
    session.commit()
    click.echo(
        f"Imported into {org_slug}: {len(report.created)} created, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged"
        + (f", {len(report.warnings)} warning(s)." if report.warnings else ".")
    )


demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("seed")
def demo_seed() -> None:
    """Create the demo organisation and users (idempotent). Refused in production."""
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("Refusing to seed demo data with production config.")
    from app.demo.seed import DEMO_PASSWORD, USERS, seed_demo

    report = seed_demo(db.session(), clock.now())
    db.session.commit()
    created = ", ".join(report.users_created + report.paths_created) or "nothing new"
    click.echo(f"Demo organisation ready ({created}).")
    click.echo(f"Log in to organization 'demo' with password '{DEMO_PASSWORD}' as:")
    for username, display_name, department, roles in USERS:
        click.echo(f"  {username:<20} {'/'.join(roles):<18} {display_name}, {department or '-'}")


org_cli = AppGroup("org", help="Organisations.")


@org_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--admin", "admin_username", required=True)
@click.option("--password", required=True)
@click.option("--timezone", default="Europe/Oslo", show_default=True)
def org_create(slug: str, name: str, admin_username: str, password: str, timezone: str) -> None:
    """Create an organisation with its first admin."""
    from app.errors import AppError
    from app.orgs.service import create_organization

    try:
        create_organization(
            db.session(),
            slug=slug,
            name=name,
            admin_username=admin_username,
            admin_password=password,
            timezone=timezone,
        )
    except AppError as error:
        problems = [f"{name}: {m}" for name, ms in (error.errors or {}).items() for m in ms]
        raise click.ClickException("; ".join([error.detail, *problems])) from None
    db.session.commit()
    click.echo(f"Organization {slug} created with admin {admin_username}.")


insights_cli = AppGroup("insights", help="Managers' insights.")


@insights_cli.command("rebuild")
@click.option("--org", "org_slug", default=None, help="Only this organisation (its slug).")
def insights_rebuild(org_slug: str | None) -> None:
    """Recompute the insights' rollup (who first passed which module, and when) from the
    attempts: after restoring a backup, or when a check finds it differs."""
    from sqlalchemy import select

    from app.insights.passes import rebuild
    from app.orgs.models import Organization

    session = db.session()
    org_id = None
    if org_slug is not None:
        org_id = session.scalar(select(Organization.id).where(Organization.slug == org_slug))
        if org_id is None:
            raise click.ClickException(f"No organization {org_slug!r}.")
    rows = rebuild(session, org_id=org_id)
    session.commit()
    click.echo(f"Rebuilt the module passes: {rows} row(s).")


leaderboards_cli = AppGroup("leaderboards", help="Leaderboards.")


@leaderboards_cli.command("rebuild")
def leaderboards_rebuild() -> None:
    """Recompute every Redis board from the points ledger and swap them in atomically."""
    from app.leaderboards.service import rebuild_all
    from app.replica import session_as_fresh_as

    session = db.session()
    with session_as_fresh_as(session) as ledger:  # the replica, once it has caught up
        written = rebuild_all(session, now=clock.now(), ledger=ledger)
    session.commit()
    click.echo(f"Rebuilt {written} board(s) from the ledger.")


@leaderboards_cli.command("archive")
def leaderboards_archive() -> None:
    """Archive finished weeks and months to the database (their Redis keys then expire)."""
    from app.leaderboards.service import archive_finished_periods

    count = archive_finished_periods(db.session(), now=clock.now())
    db.session.commit()
    click.echo(f"Archived {count} period(s).")


competitions_cli = AppGroup("competitions", help="Competitions.")


@competitions_cli.command("finish-due")
def competitions_finish_due() -> None:
    """Finish competitions that have ended: freeze standings, record winners, give badges."""
    from app.competitions.service import finish_due_competitions

    finished = finish_due_competitions(db.session(), now=clock.now())
    db.session.commit()
    click.echo(f"Finished {len(finished)} competition(s).")


interop_cli = AppGroup("interop", help="xAPI and Open Badges secrets.")


@interop_cli.command("rotate-secrets")
def interop_rotate_secrets() -> None:
    """Re-encrypt LRS passwords and signing keys with the first ENCRYPTION_KEYS key."""
    from app.interop import credentials

    session = db.session()
    count = credentials.rotate_secrets(session)
    session.commit()
    click.echo(f"Re-encrypted {count} secrets with the newest key.")
