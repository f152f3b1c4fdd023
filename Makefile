# The two commands of the README, and their helpers. Each target installs what it needs; all of
# them are `python3 -m lifecycle` commands (`python3 -m lifecycle --help` lists the others).
.PHONY: up down test serve

## Bring up the local topology (load balancer, web machines, LLM machines, database, ACME) and serve the page.
up:
	python3 -m lifecycle up

## Tear the local topology down, leaving nothing behind.
down:
	python3 -m lifecycle down

## Run every check: static, unit, Playwright, Terraform, Molecule, then the deployed topology.
test:
	python3 -m lifecycle test

## Serve the app on 127.0.0.1:8000 against the simulator, for working on the page.
serve:
	python3 -m lifecycle serve
