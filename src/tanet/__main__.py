import sys

from tanet.cli import main

sys.exit(main())
