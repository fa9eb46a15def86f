import sys

from kerasgen.cli import main

sys.exit(main())
