PY := .venv/bin/python

.PHONY: install demo test check bench clean

install:
	bash scripts/install.sh

demo: install
	bash scripts/demo.sh

test: install
	$(PY) -m pytest -q -ra tests

check: install
	.venv/bin/ruff format --check src tests bench examples scripts
	.venv/bin/ruff check src tests bench examples scripts
	.venv/bin/mypy src
	$(PY) -m pytest -q tests

bench: install
	$(PY) bench/run.py
	$(PY) bench/plugins.py
	$(PY) bench/network.py

clean:
	rm -rf .venv build src/pouch/ctrd/_api
