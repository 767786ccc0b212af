"""The `auditor` command line: parse, call the library, print. One module per command group."""

from __future__ import annotations

import gc
import importlib
import logging
import os
import signal
import sys
import threading
from types import FrameType

import click

from auditor.cli.output import escaped
from auditor.errors import AuditorError
from auditor.quiet import quiet_libraries

COMMAND_MODULES = (
    "demo", "report", "render", "scan", "batch", "keys", "verify", "import_model", "review", "queue", "submission", "ledger",
    "archive", "desk", "notice",
)


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
    """Raise `Terminated` where the process is; inside a garbage-collector callback (Dask's GC
    diagnosis has one) Python would print and drop it, so the signal is sent to the main thread
    again 50 ms later (to that thread, so that a sleep or a wait there is interrupted)."""
    if _inside_gc_callback(frame):
        threading.Timer(0.05, signal.pthread_kill, (threading.main_thread().ident, signum)).start()
        return
    raise Terminated


def _inside_gc_callback(frame: FrameType | None) -> bool:
    """Whether `frame` runs inside one of the callbacks in `gc.callbacks`."""
    codes = {getattr(getattr(callback, "__func__", callback), "__code__", None) for callback in gc.callbacks}
    while frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False


def _run(args: list[str]) -> None:
    """Parse and run one command. Unlike `click.Group.main`, an interrupt reaches `main` as it is
    (click would print an empty line and turn it into Abort)."""
    with cli.make_context("auditor", list(args)) as ctx:
        cli.invoke(ctx)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a user error becomes one line on stderr and the error's exit code."""
    signal.signal(signal.SIGTERM, _terminate)
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    quiet_libraries(debug)  # before the commands import pyHanko, Dask, OpenCV and TensorFlow
    _register_commands()
    try:
        _run(sys.argv[1:] if argv is None else argv)
    except click.exceptions.Exit as exc:  # --help, --version
        return exc.exit_code
    except click.UsageError as exc:  # one line too, naming the help to read
        where = f"; see `{exc.ctx.command_path} --help`" if exc.ctx is not None else ""
        click.echo(f"auditor: error: {escaped(exc.format_message().rstrip('.'))}{where}", err=True)
        return exc.exit_code
    except AuditorError as exc:
        if debug:
            raise
        click.echo(f"auditor: error: {escaped(exc)}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:  # a prompt answered with Ctrl-C or Ctrl-D
        click.echo("auditor: aborted; nothing was written", err=True)
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
    except BrokenPipeError:  # the reader of the output went away (`auditor verify OUT | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    return 0
