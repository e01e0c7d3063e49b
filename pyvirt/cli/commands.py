"""Loads every command module, each of which registers its commands in the table."""
from __future__ import annotations

from . import (  # noqa: F401
               cmd_domain,
               cmd_dommon,
               cmd_domsave,
               cmd_domtune,
               cmd_event,
               cmd_host,
               cmd_network,
               cmd_pool,
               cmd_qemu,
               cmd_virsh,
               cmd_volume,
               cmd_voltransfer,
               console,
)
