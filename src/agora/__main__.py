"""``python -m agora``: a plain ``serve NAME`` serves straight away (see :mod:`agora.serving`);
everything else is the command line of :mod:`agora.cli`."""

import sys


def run() -> None:
    from agora.serving import serve_from_argv

    if not serve_from_argv(sys.argv[1:]):
        from agora.cli import main

        main()


if __name__ == "__main__":
    run()
