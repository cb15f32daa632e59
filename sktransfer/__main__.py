"""Command line: ``python -m sktransfer demo`` (or the ``sktransfer`` script)."""

import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(prog="sktransfer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="transfer on sklearn's digits, offline")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from sktransfer._demo import main as run_demo

        run_demo(random_state=args.seed)


if __name__ == "__main__":
    main()
