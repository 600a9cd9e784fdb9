"""``python -m runtime IMAGE... --model FILE``: see ``runtime.cli``."""

from runtime.cli_common import run_module_main

run_module_main("runtime.cli")
