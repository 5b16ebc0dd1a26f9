#!/usr/bin/env bash
# System tools some tests need, from Debian's packages, installed the ordinary way when missing:
#   iptables — the NAT lab (packages/transport-ygg/test/nat.test.ts) puts each agent behind a MASQUERADE router.
# Needs root and apt-get; otherwise it says why and those tests skip with their reason. Never fails the run.
set -u
if command -v iptables >/dev/null 2>&1; then
  echo "system tools: iptables present ($(iptables --version 2>/dev/null | head -1))"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then echo "system tools: SKIPPED installing iptables: not root (the NAT lab test will skip)"; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then echo "system tools: SKIPPED installing iptables: no apt-get (the NAT lab test will skip)"; exit 0; fi
echo "system tools: installing iptables with apt-get"
if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables >/tmp/axl-apt.log 2>&1 \
  || { DEBIAN_FRONTEND=noninteractive apt-get update >>/tmp/axl-apt.log 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables >>/tmp/axl-apt.log 2>&1; }; then
  echo "system tools: installed $(iptables --version | head -1)"
else
  echo "system tools: SKIPPED: apt-get install iptables failed (the NAT lab test will skip); last lines:"; tail -5 /tmp/axl-apt.log
fi
exit 0
