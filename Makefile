# The front door: `make run`, `make test`, and the rest.

.PHONY: run test test-postgres spec lint conformance ci bench

# The PostgreSQL server test-postgres uses; each test creates and drops its own database there.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres

run: ## serve on http://127.0.0.1:8080 (SQLite, no setup)
	cargo run

test: ## the whole test suite, on SQLite
	cargo test --workspace

test-postgres: ## the whole test suite again, on PostgreSQL (more threads: most of the time is spent waiting on the server)
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) cargo test --workspace -- --test-threads 8

spec: ## rewrite openapi/openapi.json from the code
	cargo run --quiet -- spec > openapi/openapi.json

lint: ## formatting and clippy, warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

conformance: .venv/installed conformance/node_modules/installed ## schemathesis, spec linters and generated clients against a live release build
	bash conformance/run

.venv/installed: conformance/requirements.txt
	python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check -r conformance/requirements.txt
	touch $@

conformance/node_modules/installed: conformance/package-lock.json
	cd conformance && npm ci --no-audit --no-fund --loglevel=error
	touch $@

ci: ## what CI runs
	bash .ci/run

bench: ## release build on a fresh seeded database under wrk, one table (bench/README.md); BENCH_DATABASE_URL=postgres://… for PostgreSQL
	python3 bench/run
