"""`python -m bench.labeling_efficiency [options]` (same as `python -m bench labeling_efficiency`)."""

import sys

from bench.labeling_efficiency import main

if __name__ == "__main__":  # a spawned process (the folder scan's pool) imports this module again
    main(sys.argv[1:])
