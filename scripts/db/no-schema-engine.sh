#!/bin/sh
# Stand-in for Prisma's schema-engine binary, which cannot be downloaded here. `prisma generate`
# only checks that this file exists; `--version` answers so `prisma --version` works; anything
# that really needs the engine fails loudly instead of "succeeding" without doing anything.
case "$1" in
  --version) echo "schema-engine-stub 0.0.0"; exit 0 ;;
esac
echo "Prisma's schema-engine binary is not available offline; use npm run db:migrate / db:diff / db:check" >&2
exit 1
