"""`mailer worker`: deliver campaigns as a Celery worker (MAILER_BROKER_URL)."""

from __future__ import annotations

import click

from mailer.cli.context import app
from mailer.logs import configure_logging


@click.command()
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Chunks at once; each sends over MAILER_WORKERS connections.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of this worker's /metrics (default: MAILER_WORKER_METRICS_PORT; 0: none).",
)
@click.pass_context
def worker(ctx: click.Context, concurrency: int, metrics_port: int | None) -> None:
    """Deliver campaigns from the broker's queue, on this or any other machine.

    Needs MAILER_BROKER_URL (redis:// or amqp://), the database and the
    relay. `mailer run` enqueues each campaign's chunks when it starts; start
    as many workers as you like, on as many machines. SIGTERM finishes the
    message in flight and gives the rest of the chunk back.

    \b
    Example:
      MAILER_BROKER_URL=redis://10.0.0.5:6379/0 mailer worker --concurrency 2
    """
    a = app(ctx)
    if not a.settings.broker_url:
        raise click.ClickException(
            "MAILER_BROKER_URL is not set: a worker takes its tasks from a broker "
            "(redis://host:6379/0 or amqp://user:password@host:5672//)"
        )
    with a.session():
        pass  # the database must be ready before taking tasks
    configure_logging(a.settings)
    from mailer.workers.worker import run_worker

    port = a.settings.worker_metrics_port if metrics_port is None else metrics_port
    run_worker(a.engine, a.settings, concurrency, port)


COMMANDS = [worker]
