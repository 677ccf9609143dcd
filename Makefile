# The two commands of the README:
#   make demo   a live demo on a real single-host OVN (installs what is missing first)
#   make test   the unit suite, then the integration and e2e suites on every supported OVS/OVN pair
#               (installs what is missing first, builds the Debian roots once: scripts/ovn-root)
# Both work from a clean clone, as root, with only Node 20 and npm on the machine.

DEB_PACKAGES := openvswitch-switch openvswitch-common ovn-central ovn-host ovn-common \
                python3-openvswitch python3-netaddr python3-pyparsing debootstrap \
                chromium fonts-dejavu-core
# chromium: the /ui browser tests (test/browser) drive Debian's build; fonts so that pages have text.
# The binaries the sandbox, the tests and the benches run; any one missing means install.
DEB_BINARIES := ovsdb-server ovsdb-tool ovsdb-client ovs-vswitchd ovs-vsctl ovs-appctl ovs-ofctl ovs-pki \
                ovn-northd ovn-controller ovn-nbctl ovn-sbctl ovn-trace ovn-detrace debootstrap chromium

.PHONY: demo test deps debs node_modules build clean

demo: deps build
	scripts/demo

test: deps
	npm test

deps: debs debs-pg node_modules

debs:
	@missing=""; for b in $(DEB_BINARIES); do command -v $$b >/dev/null 2>&1 || missing="$$missing $$b"; done; \
	/usr/bin/python3 -c 'import ovs.db.idl, ovs.flow.odp, netaddr, pyparsing' 2>/dev/null || missing="$$missing python3-openvswitch"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages (missing:$$missing)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q --no-install-recommends $(DEB_PACKAGES); \
	fi

# PostgreSQL, the store many agents share (issue 19): scripts/pg-cluster runs a cluster of the project's
# own for the tests (test/postgres), the bench and scripts/demo --chassis 3.
PG_PACKAGES := postgresql postgresql-client
.PHONY: debs-pg
debs-pg:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then \
	  echo "installing Debian packages: $(PG_PACKAGES)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q --no-install-recommends $(PG_PACKAGES); \
	fi

# npm ci only when the lock changed since the last install (or nothing is installed).
node_modules: node_modules/.package-lock.json
node_modules/.package-lock.json: package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $@

build: node_modules
	npm run build

clean:
	rm -rf dist node_modules var
