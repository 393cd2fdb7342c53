import sys

from miex.cli.main import main

sys.exit(main())
