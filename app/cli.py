"""The `vigil` command group: thin wrappers over services (DESIGN.md §5)."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from app.core.actors import system_actor
from app.core.errors import DomainError
from app.core.tenancy import tenant_context


def _create_app(*_args):
    from app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True,
             add_version_option=False, load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Vigil: security operations and AI governance console."""


def _fail(exc: DomainError) -> None:
    details = getattr(exc, "field_errors", None)
    extra = "; ".join(f"{k}: {' '.join(v)}" for k, v in details.items()) if details else ""
    raise click.ClickException(f"{exc.message}{' (' + extra + ')' if extra and extra not in exc.message else ''}")


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Create tenant `acme` with one user per role (idempotent) and print the logins."""
        from app.demo import seed

        for line in seed():
            click.echo(line)

    @app.cli.command("create-tenant")
    @click.argument("slug")
    @click.argument("name")
    def create_tenant(slug: str, name: str) -> None:
        """Create a tenant."""
        from app.identity.services import create_tenant as create

        try:
            tenant = create(slug, name)
        except DomainError as exc:
            _fail(exc)
        click.echo(f"created tenant {tenant.slug} ({tenant.public_id})")

    @app.cli.command("create-user")
    @click.argument("email")
    @click.option("--tenant", "tenant_slug", required=True)
    @click.option("--role", required=True)
    @click.option("--name", default="")
    def create_user(email: str, tenant_slug: str, role: str, name: str) -> None:
        """Add a user to a tenant; the password is read from standard input."""
        from app.identity.services import add_member, tenant_by_slug

        password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else click.prompt(
            "Password", hide_input=True, confirmation_prompt=True)
        try:
            tenant = tenant_by_slug(tenant_slug)
            with tenant_context(tenant):
                membership = add_member(actor=system_actor(tenant, "cli"), email=email, name=name, role=role,
                                        password=password or None)
        except DomainError as exc:
            _fail(exc)
        click.echo(f"created {membership.user.email} as {membership.role.value} in {tenant.slug}")

    @app.cli.command("create-api-key")
    @click.option("--tenant", "tenant_slug", required=True)
    @click.option("--name", required=True)
    @click.option("--scope", "scopes", multiple=True, required=True)
    def create_api_key(tenant_slug: str, name: str, scopes: tuple[str, ...]) -> None:
        """Create an API key and print the raw key once."""
        from app.identity.api_keys import create_api_key as create
        from app.identity.services import tenant_by_slug

        try:
            tenant = tenant_by_slug(tenant_slug)
            with tenant_context(tenant):
                _key, raw = create(actor=system_actor(tenant, "cli"), name=name, scopes=list(scopes))
        except DomainError as exc:
            _fail(exc)
        click.echo(raw)

    @app.cli.command("worker")
    @click.option("--workers", default=2, show_default=True, help="threads running jobs")
    def worker(workers: int) -> None:
        """Run the background job consumer, periodic jobs included (the SLA breach check)."""
        from flask import current_app

        queue = current_app.extensions["huey"]
        if queue.immediate:
            raise click.ClickException("Jobs run inline here (VIGIL_JOBS_IMMEDIATE or testing): nothing to consume.")
        queue.create_consumer(workers=workers, worker_type="thread", periodic=True).run()

    from app.compliance.cli import compliance_cli

    app.cli.add_command(compliance_cli)
