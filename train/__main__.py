"""``python -m train``: see ``train.cli``."""

from runtime.cli_common import run_module_main

run_module_main("train.cli")
