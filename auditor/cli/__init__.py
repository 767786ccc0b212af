"""The `auditor` command line: parse, call the library, print. One module per command group."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
from types import FrameType

import click

from auditor.cli.output import escaped
from auditor.errors import AuditorError
from auditor.quiet import quiet_libraries

COMMAND_MODULES = ("demo", "render", "keys", "verify", "import_model", "batch", "review", "submission")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks and library logs.")
@click.version_option(package_name="auditor")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Evidence reports for the decisions of video anomaly detectors."""
    ctx.obj = {"debug": debug}
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(name)s: %(message)s")


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"auditor.cli.{name}")
        for command in module.COMMANDS:
            cli.add_command(command)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so that staging folders are removed on the way out."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a user error becomes one line on stderr and the error's exit code."""
    signal.signal(signal.SIGTERM, _terminate)
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    quiet_libraries(debug)  # before the commands import pyHanko, Dask, OpenCV and TensorFlow
    _register_commands()
    try:
        cli.main(args=argv, prog_name="auditor", standalone_mode=False)
    except click.UsageError as exc:  # one line too, naming the help to read
        where = f"; see `{exc.ctx.command_path} --help`" if exc.ctx is not None else ""
        click.echo(f"auditor: error: {escaped(exc.format_message().rstrip('.'))}{where}", err=True)
        return exc.exit_code
    except AuditorError as exc:
        if debug:
            raise
        click.echo(f"auditor: error: {escaped(exc)}", err=True)
        return exc.exit_code
    except click.exceptions.Abort as exc:  # click turns KeyboardInterrupt (and so SIGTERM) into Abort
        if isinstance(exc.__context__, Terminated):
            click.echo("auditor: terminated; nothing half-written was kept", err=True)
            return 143
        click.echo("auditor: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except Terminated:
        click.echo("auditor: terminated; nothing half-written was kept", err=True)
        return 143
    except KeyboardInterrupt:
        click.echo("auditor: interrupted; nothing half-written was kept", err=True)
        return 130
    return 0
