# The front door: `make run`, `make test`, and the rest.

.PHONY: run test spec lint ci

run: ## serve on http://127.0.0.1:8080 (SQLite, no setup)
	cargo run

test: ## the whole test suite
	cargo test --workspace

spec: ## rewrite openapi/openapi.json from the code
	cargo run --quiet -- spec > openapi/openapi.json

lint: ## formatting and clippy, warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

ci: ## what CI runs
	bash .ci/run
