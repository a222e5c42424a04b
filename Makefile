# The front door: `make run`, `make test`, and the rest.

.PHONY: run test test-postgres spec lint ci

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

ci: ## what CI runs
	bash .ci/run
