"""Command line: ``python -m sktransfer demo`` (or the ``sktransfer`` script)."""

import argparse
import pathlib


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="sktransfer",
        description="sktransfer: transfer learning as scikit-learn estimators.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="transfer on digits and on 20 Newsgroups with GloVe, offline"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--only", choices=("digits", "text"), help="run one part of the demo"
    )
    demo.add_argument(
        "--out", default="sktransfer-demo", help="folder for the saved curves"
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        from sktransfer._demo import main as run_demo
        from sktransfer.utils._files import user_path

        try:  # before the demo runs, not after its first minute
            # --out=~/curves reaches us unexpanded (no shell expands it there)
            pathlib.Path(user_path(args.out)).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            demo.error(f"--out {args.out}: cannot make this folder ({exc.strerror})")

        parts = (args.only,) if args.only else ("digits", "text")
        if "text" in parts:
            from sktransfer._demo import check_text_part

            try:  # before the image part's minute, not after it
                check_text_part()
            except (FileNotFoundError, ValueError) as exc:
                demo.error(
                    f"the text part cannot run: {exc}\n"
                    "(--only digits runs the image part alone.)"
                )
        run_demo(random_state=args.seed, parts=parts, out=args.out)


if __name__ == "__main__":
    main()
