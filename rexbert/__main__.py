"""`python -m rexbert …` (and `torchrun -m rexbert …`) runs the command-line interface."""

import sys

from rexbert.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
