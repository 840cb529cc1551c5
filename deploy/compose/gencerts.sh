#!/bin/sh
# One-shot (the compose "certs" service, in eventstore/es-gencert-cli's
# image, as root): a CA and one certificate per EventStoreDB node, made once
# and kept in volumes; a later run changes nothing. To renew, remove the
# volumes es-ca-key, es-certs and es-ca (docker compose down -v removes
# every volume, data included).
#   /ca-key  the CA's certificate and key (no other service mounts it)
#   /certs   ca/ca.crt and nodeN/node.{crt,key}, for the nodes (uid 1000)
#   /ca      ca.crt alone, world-readable, for clients (accountd)
set -eu
if [ ! -s /ca-key/ca.key ]; then
  es-gencert-cli create-ca -out /ca-key
fi
for n in 1 2 3; do
  if [ ! -s "/certs/node$n/node.key" ]; then
    # The name the node is reached by: clients and the other nodes check it.
    es-gencert-cli create-node -ca-certificate /ca-key/ca.crt -ca-key /ca-key/ca.key \
      -out "/certs/node$n" -dns-names "esdb$n"
  fi
done
mkdir -p /certs/ca
cp /ca-key/ca.crt /certs/ca/ca.crt
cp /ca-key/ca.crt /ca/ca.crt
chmod 0700 /ca-key
chmod 0600 /ca-key/ca.key
# EventStoreDB runs as uid 1000 in its image; node keys readable by it only.
chown -R 1000:1000 /certs
chmod -R u=rwX,go= /certs
chmod 0755 /ca
chmod 0644 /ca/ca.crt
