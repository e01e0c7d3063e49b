"""`python -m pyvirt.bench`: the pyvirt-bench command."""
import sys

from .main import main

sys.exit(main())
