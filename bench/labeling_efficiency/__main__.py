"""`python -m bench.labeling_efficiency [options]` (same as `python -m bench labeling_efficiency`)."""

import sys

from bench.labeling_efficiency import main

main(sys.argv[1:])
