"""`python -m ngsim ...` runs the ngsim command line."""
import sys

from ngsim.cli import main

sys.exit(main())
