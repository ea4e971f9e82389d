# The README's commands. `make demo` runs Labelwise on its embedded default;
# `make test` runs the whole suite. Both set up everything they need first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo serve test test-postgres test-redis lint format bench openapi browser clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel; an unpinned torch would pull CUDA packages.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

browser:
	@test -x /usr/bin/chromium || scripts/install-chromium

demo: install
	$(VENV)/bin/labelwise demo --host $(HOST) --port $(PORT)

serve: install
	$(VENV)/bin/labelwise serve --host $(HOST) --port $(PORT)

test: install browser
	scripts/test

lint: install
	VENV=$(VENV) scripts/lint

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) -m bench

openapi: install
	$(VENV)/bin/labelwise openapi --write

clean:
	rm -rf $(VENV) .pytest_cache
