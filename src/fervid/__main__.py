import sys

from fervid.cli import main

sys.exit(main())
