#!/usr/bin/env bash
# Runs inside the guest (chroot): the README's install commands for this platform, verbatim
# from install.sh (extracted from README.md by pi_check.sh), then guest_check.py.
#
#   guest_run.sh KIND        KIND: wheels (.[device]) or system (.[device-system])
set -euo pipefail
kind=$1
check=/root/check

echo "== $(uname -m), $(grep PRETTY_NAME /etc/os-release)"
echo "== README install commands ($kind):"
cat "$check/install.sh"
cd /root/digit-kit
bash -euxo pipefail "$check/install.sh" 2>&1 | tee "$check/install.log"

echo "== check"
"$HOME/digit-env/bin/python" "$check/guest_check.py" "$check" "$HOME/digit-env" "$kind" "$check/result.json"
