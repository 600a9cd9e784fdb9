#!/usr/bin/env bash
# Check that `pip install ".[desktop]"` resolves to wheels only (nothing to compile) on every
# desktop platform the README names, and that the environment markers pick tensorflow-cpu on
# x86_64 and tensorflow on ARM.
#
#   scripts/check_desktop_wheels.sh [--python FILE] [--python-versions 3.11,3.12,3.13]
#
# Needs PyPI. It runs pip with --dry-run --only-binary=:all: --platform ... --python-version,
# which downloads only package metadata and installs nothing. pip evaluates environment markers
# for the machine it runs on, whatever --platform says (pypa/pip#10050), so the markers are
# evaluated for the target platform by patching pip's marker environment for that one run.
# Local pip configuration is ignored, so a local wheel cache cannot hide a missing PyPI wheel.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=$repo/.venv/bin/python
versions=3.11,3.12,3.13
while [ $# -gt 0 ]; do
  case $1 in
    --python) python=${2:?--python needs a file}; shift 2 ;;
    --python-versions) versions=${2:?--python-versions needs a list}; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "check_desktop_wheels: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -x "$python" ] || python=$(command -v python3)

manylinux() { # manylinux tags a glibc 2.28 system accepts, for one machine
  local machine=$1 minor
  for minor in $(seq 28 -1 17); do printf -- '--platform manylinux_2_%s_%s ' "$minor" "$machine"; done
  printf -- '--platform manylinux2014_%s' "$machine"
}
# name | pip --platform flags | sys_platform platform_system os_name platform_machine | TensorFlow
targets=(
  "linux-x86_64|$(manylinux x86_64)|linux Linux posix x86_64|tensorflow-cpu"
  "linux-aarch64|$(manylinux aarch64)|linux Linux posix aarch64|tensorflow"
  "macos-arm64|--platform macosx_14_0_arm64|darwin Darwin posix arm64|tensorflow"
  "windows-amd64|--platform win_amd64|win32 Windows nt AMD64|tensorflow-cpu"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs pip with the marker environment of the target; arguments: the marker values, then pip's.
pip_for_target=$(
  cat <<'EOF'
import sys
from pip._internal.cli.main import main
from pip._vendor.packaging import markers

sys_platform, platform_system, os_name, machine, version = sys.argv[1:6]
target = {
    "sys_platform": sys_platform, "platform_system": platform_system, "os_name": os_name,
    "platform_machine": machine, "python_version": version, "python_full_version": version + ".0",
    "implementation_name": "cpython", "platform_python_implementation": "CPython",
}
host_environment = markers.default_environment
markers.default_environment = lambda: {**host_environment(), **target}
sys.exit(main(sys.argv[6:]))
EOF
)
# Reads pip's --report; prints the resolved packages, or why the resolution is wrong.
verify_report=$(
  cat <<'EOF'
import json, re, sys

report, tensorflow = sys.argv[1], sys.argv[2]
installs = [item for item in json.load(open(report))["install"] if item["metadata"]["name"] != "digit-kit"]
names = {re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item["metadata"]["version"] for item in installs}
problems = [item["download_info"]["url"] for item in installs if not item["download_info"]["url"].endswith(".whl")]
other = "tensorflow" if tensorflow == "tensorflow-cpu" else "tensorflow-cpu"
for name in (tensorflow, "ai-edge-litert", "opencv-python-headless", "numpy"):
    if name not in names:
        problems.append(f"{name} missing")
if other in names:
    problems.append(f"{other} {names[other]} chosen as well")
print(", ".join(f"{n} {names[n]}" for n in (tensorflow, "ai-edge-litert", "opencv-python-headless", "numpy") if n in names), f"({len(names)} wheels)")
if problems:
    print("PROBLEMS: " + "; ".join(problems))
    sys.exit(1)
EOF
)

failures=0
IFS=, read -r -a python_versions <<<"$versions"
for version in "${python_versions[@]}"; do
  for target in "${targets[@]}"; do
    IFS='|' read -r name platform_flags marker_values tensorflow <<<"$target"
    report=$tmp/$name-$version.json
    # shellcheck disable=SC2086 # the flags and marker values are word lists
    if PIP_CONFIG_FILE=/dev/null "$python" -c "$pip_for_target" $marker_values "$version" \
      install --isolated --quiet --dry-run --ignore-installed --only-binary=:all: \
      $platform_flags --python-version "$version" --target "$tmp/target" \
      --report "$report" "${repo}[desktop]" >"$tmp/pip.log" 2>&1 &&
      summary=$("$python" -c "$verify_report" "$report" "$tensorflow"); then
      echo "ok    $name Python $version: $summary"
    else
      failures=$((failures + 1))
      echo "FAIL  $name Python $version: ${summary:-pip could not resolve wheels only:}"
      [ -n "${summary:-}" ] || sed 's/^/      /' "$tmp/pip.log" | tail -n 5
    fi
    summary=
  done
done
if [ "$failures" -gt 0 ]; then
  echo "check_desktop_wheels: $failures platform(s) cannot install the desktop extra from wheels" >&2
  exit 1
fi
