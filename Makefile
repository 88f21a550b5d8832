# Two commands set everything up: `make demo` and `make test`.
# Both create .venv from nothing on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# The main job on the offline demo model: reasoning, Markdown text and a tool
# call streaming at once (a live view on a terminal, plain text in a pipe).
DEMO_PROMPT := What's the weather in Paris?

demo: $(STAMP)
	$(BIN)/streamblocks chat --model demo "$(DEMO_PROMPT)"
	@echo
	@echo "Next: $(BIN)/streamblocks chat (a session), or with a real model:"
	@echo "  $(BIN)/streamblocks chat --model openai:gpt-4o-mini \"$(DEMO_PROMPT)\""
	@echo "  (anthropic:..., gemini:..., ollama:<model> --base-url URL; see --help)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

# The reference implementation (langchain-core 1.8.1) is installed only for
# benchmarks, never as a dependency of streamblocks.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		langchain-core==1.8.1 langchain-protocol==0.0.20
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		pydantic langsmith jsonpatch pyyaml tenacity packaging typing-extensions uuid-utils
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
