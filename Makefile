# The two commands of the README, and their helpers. Each target installs what it needs.
.PHONY: up down test serve

## Bring up the local topology (load balancer, web machines, GPU machine, ACME) and serve the page.
up:
	scripts/up.sh

## Tear the local topology down, leaving nothing behind.
down:
	scripts/down.sh

## Run every check: static, unit, Playwright, Terraform, Molecule, then the deployed topology.
test:
	scripts/test.sh

## Serve the app on 127.0.0.1:8000 against the simulator, for working on the page.
serve:
	scripts/serve-dev.sh
