"""Command line: ``edge-counter <command>``; one module per command under ``edge/commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from edge import __version__
from edge.errors import EdgeError

#: command name -> (module under edge.commands, one-line help). Modules load only when used,
#: so the Pi never imports the collector's web stack.
COMMANDS: dict[str, tuple[str, str]] = {
    "replay": ("replay", "count crossings in a recorded video, as a device would"),
    "evaluate": ("evaluate", "measure counting accuracy on clips with a hand count (WAPE)"),
    "assets": ("assets", "fetch model weights and sample clips, checking their sha256"),
    "model": ("model", "build the INT8 detector, resize a model's input, or choose the model"),
    "bench": ("bench", "measure speed and memory, stage by stage"),
    "run": ("run", "run the counting service on a device, from a config file"),
    "check-config": ("check_config", "check a config file and list every error by field"),
    "tail": ("tail", "print the messages devices send to a broker"),
    "collector": ("collector", "run the central collector: MQTT in, database, API, dashboard"),
    "demo": ("demo", "replay a clip or your video through MQTT to a dashboard"),
    "setup": ("setup", "a local web page to draw the lines and zones on the camera's picture"),
}

DESCRIPTION = """\
Count vehicles and pedestrians crossing lines in camera video, on a Raspberry Pi or a PC,
and ship every crossing to a central collector over MQTT."""

EPILOG = """\
first steps:
  edge-counter assets fetch --for demo     the detector and the sample clip
  edge-counter demo                        count the clip, see the dashboard (Ctrl-C stops)
  edge-counter demo --video FILE --line NAME:AX,AY,BX,BY    the same on your own video

'edge-counter COMMAND --help' shows a command's options."""

log = logging.getLogger(__name__)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """Create the top-level parser; only the subcommand named in ``argv`` loads its module."""
    parser = argparse.ArgumentParser(
        prog="edge-counter",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edge-counter {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    wanted = _wanted_command(argv)
    for name, (module, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if wanted == name:
            _module(module).add_arguments(sp)
        sp.set_defaults(_module=module)
    return parser


def _wanted_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line, so only its module is imported."""
    for arg in argv:
        if arg in COMMANDS:
            return arg
    return None


def _module(name: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"edge.commands.{name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edge-counter`` console script. Exit 2 on any ``EdgeError``."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(args_list).parse_args(args_list)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(_module(args._module).run(args))
    except EdgeError as err:
        print(f"edge-counter {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
