"""`python -m pyvirt.cli`: run pyvirsh."""
import sys

from .main import main

sys.exit(main())
