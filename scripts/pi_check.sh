#!/usr/bin/env bash
# The emulated Raspberry Pi check: the README's device install, run in Debian armhf and arm64
# systems (bookworm and trixie) under qemu-user, then the model compared with x86 LiteRT,
# digit-classify on an image and the camera demo headless on a folder of frames.
#
#   sudo scripts/pi_check.sh [--model FILE] [--platforms a,b] [--count N] [--rebuild] [--keep]
#
# Run it as root from a checkout, on Debian or Ubuntu x86_64 (it apt-installs mmdebstrap and
# qemu-user-static if they are missing). See "The emulated Raspberry Pi check" in README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
helpers=$here/pi_check
cache=${DIGIT_KIT_PI_CACHE:-$HOME/.cache/digit-kit/pi}
mirror=${DIGIT_KIT_PI_MIRROR:-http://deb.debian.org/debian}

# name -> "arch suite install-kind". wheels = README's .[device] commands (PyPI wheels);
# system = README's .[device-system] commands (apt's NumPy and OpenCV; LiteRT on arm64).
declare -A PLATFORMS=(
  [arm64-bookworm]="arm64 bookworm wheels"
  [arm64-trixie]="arm64 trixie wheels"
  [armhf-bookworm]="armhf bookworm system"
  [armhf-trixie]="armhf trixie system"
  [arm64-bookworm-system]="arm64 bookworm system"
  [arm64-trixie-system]="arm64 trixie system"
)
ALL_PLATFORMS=arm64-bookworm,arm64-trixie,armhf-bookworm,armhf-trixie,arm64-bookworm-system,arm64-trixie-system
# The Pi 4's Cortex-A72; qemu-arm has no 32-bit model of it, and "max" has its ARMv8 AArch32
# instructions (Debian's armhf code targets ARMv7).
declare -A QEMU_CPUS=([arm64]=cortex-a72 [armhf]=max)
declare -A EXTRA=([wheels]=".[device]" [system]=".[device-system]")

usage() {
  cat <<EOF
usage: $0 [options]

  --model FILE       int8 model to check (default artifacts/model_int8.tflite)
  --platforms LIST   comma list of: ${ALL_PLATFORMS//,/, } (default all)
  --count N          MNIST test images compared with x86 LiteRT (default 1000)
  --frames N         camera frames for the headless demo (default 6)
  --data DIR         MNIST directory (default \$DIGIT_KIT_MNIST_DIR, else as 'python -m train' finds it)
  --python FILE      host Python with the kit, ai-edge-litert and OpenCV (default .venv/bin/python)
  --rebuild          rebuild the cached Debian systems
  --keep             keep the temporary directory (the guests' changed files) for inspection

Cache: \$DIGIT_KIT_PI_CACHE (default ~/.cache/digit-kit/pi): the Debian systems and per-run logs.
EOF
}

die() {
  echo "pi_check: error: $*" >&2
  exit 2
}
say() { echo "pi_check: $*" >&2; }

model=$repo/artifacts/model_int8.tflite
platforms=$ALL_PLATFORMS
count=1000
frames=6
python=$repo/.venv/bin/python
data=()
rebuild=0
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$(realpath -- "${2:?--model needs a file}"); shift 2 ;;
    --platforms) platforms=${2:?--platforms needs a list}; shift 2 ;;
    --count) count=${2:?--count needs a number}; shift 2 ;;
    --frames) frames=${2:?--frames needs a number}; shift 2 ;;
    --data) data=(--data "$(realpath -- "${2:?--data needs a directory}")"); shift 2 ;;
    --python) python=${2:?--python needs a file}; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

IFS=, read -r -a selected <<<"$platforms"
for name in "${selected[@]}"; do
  [ -n "${PLATFORMS[$name]:-}" ] || die "unknown platform '$name'; choose from $ALL_PLATFORMS"
done
[[ $count =~ ^[1-9][0-9]*$ ]] || die "--count must be a positive number"
[[ $frames =~ ^[1-9][0-9]*$ ]] || die "--frames must be a positive number"
[ -f "$model" ] || die "no model at $model. Make it with the README's main job:
  python -m train --out artifacts && python -m convert artifacts/model.keras --out artifacts --formats all
or pass --model FILE."
[ -x "$python" ] || python=$(command -v python3)
[ "$(id -u)" = 0 ] || die "run as root (it builds Debian systems and mounts them): sudo $0 $*"
[ "$(uname -m)" = x86_64 ] || die "this check runs on an x86_64 host (found $(uname -m))"

# The README's install commands for one kind, between <!-- pi-install-KIND --> markers.
readme_block() {
  # shellcheck disable=SC2016 # the backticks are the Markdown fence, not a command
  sed -n "/<!-- pi-install-$1 -->/,/<!-- \/pi-install-$1 -->/p" "$repo/README.md" |
    sed -n '/^```/,/^```/p' | sed '1d;$d'
}
# The apt packages the block installs: the words after "apt install -y".
apt_packages() {
  readme_block "$1" | sed -n 's/^sudo apt install -y //p' | tr ' ' '\n' | grep -v '^$' || true
}
for kind in wheels system; do
  [ -n "$(readme_block "$kind")" ] || die "README.md has no <!-- pi-install-$kind --> block"
  [ -n "$(apt_packages "$kind")" ] || die "README.md's pi-install-$kind block has no 'sudo apt install -y' line"
done

# --- host tools: mmdebstrap, qemu-user-static, binfmt_misc ------------------------------------
ensure_tools() {
  local missing=()
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
  command -v update-binfmts >/dev/null || missing+=(binfmt-support)
  command -v git >/dev/null || missing+=(git)
  [ ${#missing[@]} -eq 0 ] && return
  command -v apt-get >/dev/null ||
    die "missing ${missing[*]} and no apt-get: this check needs a Debian or Ubuntu host"
  say "installing ${missing[*]} with apt-get"
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; }; then
    die "apt-get could not install ${missing[*]}"
  fi
}

ensure_binfmt() {
  local fs=/proc/sys/fs/binfmt_misc entry
  if ! mountpoint -q "$fs"; then
    mount -t binfmt_misc binfmt_misc "$fs" ||
      die "cannot mount $fs (in a container, start it with binfmt_misc available or run the check on the host)"
  fi
  for entry in qemu-aarch64 qemu-arm; do
    if ! grep -qx enabled "$fs/$entry" 2>/dev/null; then
      update-binfmts --enable "$entry" || die "update-binfmts --enable $entry failed"
    fi
    # F (fix binary): the kernel opens qemu when registering, so it works inside a chroot.
    grep -q '^flags:.*F' "$fs/$entry" ||
      die "$fs/$entry lacks the F flag: install Debian's qemu-user-static (not qemu-user-binfmt)"
  done
}

# --- Debian systems, cached -----------------------------------------------------------------
# The directory of the system for ARCH SUITE with PACKAGES installed, built once. Its name
# holds a digest of what went into it, so a change in the README's apt line builds a new one.
declare -A rebuilt=()
ensure_rootfs() {
  local arch=$1 suite=$2 packages=$3 key dir started
  key=$(printf '%s\n' "$arch" "$suite" "$mirror" "$packages" | sha256sum | cut -c1-12)
  dir=$cache/rootfs/$suite-$arch-$key
  if [ "$rebuild" = 1 ] && [ -z "${rebuilt[$dir]:-}" ]; then
    rm -rf "$dir"
  fi
  rebuilt[$dir]=1
  if [ ! -d "$dir" ]; then
    say "building Debian $suite $arch with: $packages (log: $dir.log)"
    started=$SECONDS
    rm -rf "$dir.tmp"
    mkdir -p "$cache/rootfs"
    if ! mmdebstrap --mode=root --variant=apt --architectures="$arch" \
      --include="ca-certificates,${packages// /,}" \
      "$suite" "$dir.tmp" "$mirror" >"$dir.log" 2>&1; then
      rm -rf "$dir.tmp"
      die "building Debian $suite $arch failed; see $dir.log"
    fi
    mv "$dir.tmp" "$dir"
    say "built Debian $suite $arch in $((SECONDS - started)) s"
  fi
  echo "$dir"
}

# --- run ---------------------------------------------------------------------------------------
ensure_tools
ensure_binfmt

work=$(mktemp -d "${TMPDIR:-/tmp}/digit-kit-pi.XXXXXX")
logs=$cache/logs/$(date +%Y%m%d-%H%M%S)
mkdir -p "$logs"
cleanup() {
  # The guests' mounts live in private mount namespaces that end with their processes.
  # unshare ignores SIGTERM; killing it kills its child (--kill-child), PID 1 of the guest's
  # PID namespace, and with it every guest process.
  if [ -n "${guest_pid:-}" ] && kill -0 "$guest_pid" 2>/dev/null; then
    kill -KILL "$guest_pid" 2>/dev/null || true
    wait "$guest_pid" 2>/dev/null || true
  fi
  if [ "$keep" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The repository as the working tree has it (tracked and untracked files, not ignored ones:
# no .venv, no artifacts), so uncommitted changes are checked too.
(
  cd "$repo"
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf "$work/repo.tar"
)

say "x86 reference: $model on $count MNIST test images with $python"
mkdir -p "$work/inputs"
PYTHONPATH=$repo "$python" "$helpers/host_prepare.py" --model "$model" --count "$count" \
  --frames "$frames" "${data[@]}" --out "$work/inputs/data" >"$logs/host.log" 2>&1 ||
  die "the x86 reference run failed; see $logs/host.log"
tail -n 1 "$logs/host.log" >&2

rows=()
failed=()
for name in "${selected[@]}"; do
  read -r arch suite kind <<<"${PLATFORMS[$name]}"
  packages=$(apt_packages "$kind" | tr '\n' ' ')
  rootfs=$(ensure_rootfs "$arch" "$suite" "${packages% }")
  log=$logs/$name.log
  dir=$work/$name
  mkdir -p "$dir/inputs"
  cp -r "$work/inputs/data/." "$dir/inputs/"
  cp "$helpers/guest_run.sh" "$helpers/guest_check.py" "$dir/inputs/"
  readme_block "$kind" >"$dir/inputs/install.sh"
  say "$name: installing with the README's ${EXTRA[$kind]} commands and checking (log: $log)"
  started=$SECONDS
  status=0
  # A private mount namespace (the guest's mounts vanish with it) and a PID namespace whose
  # processes all die with unshare, however this script ends.
  unshare --mount --propagation private --pid --fork --kill-child \
    bash "$helpers/enter_guest.sh" "$rootfs" "$dir" "$helpers/cpuinfo-pi4-$arch" "${QEMU_CPUS[$arch]}" \
    "$dir/inputs" "$work/repo.tar" "$kind" >"$log" 2>&1 &
  guest_pid=$!
  wait "$guest_pid" || status=$?
  guest_pid=
  seconds=$((SECONDS - started))

  result=$dir/upper/root/check/result.json
  problems=()
  [ "$status" = 0 ] || problems+=("guest exit $status")
  install_log=$dir/upper/root/check/install.log
  # No source builds: the only wheel pip may build is digit-kit itself.
  if [ -f "$install_log" ] && grep -E 'Building wheel for|Downloading .*\.(tar\.gz|zip)\b' "$install_log" |
    grep -v -E 'digit[-_]kit' >"$dir/source-builds"; then
    problems+=("pip built from source: $(tr '\n' ';' <"$dir/source-builds")")
  fi
  {
    IFS=$'\t' read -r py np cv backends litert numpy classify camera || true
    while IFS= read -r line; do problems+=("$line"); done
  } < <("$python" "$helpers/summarize.py" "$result")
  verdict=ok
  if [ ${#problems[@]} -gt 0 ]; then
    verdict=FAIL
    failed+=("$name: $(printf '%s; ' "${problems[@]}")see $log")
  fi
  extra=${EXTRA[$kind]}
  [ "$kind:$arch" = system:arm64 ] && extra=".[device-system,litert-system]"
  row="| $suite $arch | \`$extra\` | $py | $np | $cv | $backends | $litert | $numpy | $classify | $camera | $seconds | $verdict |"
  rows+=("$row")
  say "$name: $verdict in $seconds s"
done

echo
echo "Emulated Raspberry Pi check: $(basename "$model"), $count MNIST test images vs x86 LiteRT, $frames camera frames"
echo
echo "| platform | install | Python | NumPy | OpenCV | backends | LiteRT vs x86: top-1 agreement / max prob diff | NumPy backend vs x86 | digit-classify | camera demo | seconds | result |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | ---: | --- |"
printf '%s\n' "${rows[@]}"
echo
echo "logs: $logs"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
