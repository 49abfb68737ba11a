"""``python -m autograder.gradescope run|check`` (run_autograder and setup.sh)."""

import sys

from autograder.gradescope.runner import main

if __name__ == "__main__":
    sys.exit(main())
