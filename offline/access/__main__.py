import sys

from offline.access.cli import main

sys.exit(main())
