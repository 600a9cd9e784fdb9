"""``python -m convert MODEL.keras --out DIR --formats LIST``."""

from runtime.cli_common import run_module_main

run_module_main("convert.cli")
