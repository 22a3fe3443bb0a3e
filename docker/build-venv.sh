#!/bin/sh
# Install jobwatch and its locked runtime dependencies into a fresh virtualenv.
#
# The image's build stage RUNs this (`make image` builds the image for real, tests/deploy runs it).
# The project is installed as a built wheel (--no-editable), so the venv needs nothing from the
# source tree afterwards.
#
# usage: build-venv.sh SOURCE_DIR VENV_DIR     (PYTHON selects the interpreter, default python3)
set -eu

src=${1:?usage: build-venv.sh SOURCE_DIR VENV_DIR}
venv=${2:?usage: build-venv.sh SOURCE_DIR VENV_DIR}

export UV_PROJECT_ENVIRONMENT="$venv"
export UV_PYTHON_DOWNLOADS=never
export UV_LINK_MODE=copy
export UV_COMPILE_BYTECODE="${UV_COMPILE_BYTECODE:-1}"

# The image build's optional CA-bundle secret (see the Dockerfile): trust what the host trusts.
if [ -z "${SSL_CERT_FILE:-}" ] && [ -s /run/secrets/ca-certificates ]; then
    export SSL_CERT_FILE=/run/secrets/ca-certificates
fi

cd "$src"
uv sync --frozen --no-dev --no-editable --python "${PYTHON:-python3}"

# Fail the build here, not at the first pod start, if the entry point or its data is broken.
"$venv/bin/jobwatch" --version
"$venv/bin/jobwatch" render rules >/dev/null
